//! Streaming evaluation at 100,000 peaks × 10 tracks × 2 replicate models: cost of adding a
//! batch of peaks, of a cheap snapshot (running Pearson, over-correlation, CV median) and
//! of a ranked one (Spearman, AUROC, AUPRC sort per target and stratum).
use criterion::{criterion_group, criterion_main, Criterion};
use peakscope::eval::strata::{Strata, DEFAULT_SPECIFICITY_EDGES};
use peakscope::eval::stream::{EvalLayout, EvalState, ModelLayout, PeakRow};

const N: usize = 100_000;
const T: usize = 10;

fn state() -> EvalState {
    let tracks: Vec<String> = (0..T).map(|t| format!("ct{t}")).collect();
    let labels: Vec<String> = (0..=T).map(|l| format!("c{l}")).collect();
    let models = (0..2)
        .map(|m| ModelLayout { name: format!("rep{m}"), group: Some("mt".into()), outputs: (0..T).map(Some).collect(), output_names: tracks.clone() })
        .collect();
    let layout = EvalLayout { tracks, models, strata: Strata::new(&labels, &["c0".into()], &DEFAULT_SPECIFICITY_EDGES, true), has_calls: true };
    EvalState::new(layout, N)
}

fn row(st: &EvalState, i: usize, s: &mut u64) -> PeakRow {
    let mut next = || {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        (*s >> 11) as f64 / (1u64 << 53) as f64
    };
    let measured: Vec<f64> = (0..T).map(|_| next() * 50.0).collect();
    let predicted = (0..2).map(|_| measured.iter().map(|m| m * (0.5 + next())).collect()).collect();
    let called: Vec<bool> = measured.iter().map(|m| *m > 25.0).collect();
    let spec = called.iter().filter(|&&c| c).count() as u32;
    let label = format!("c{}", i % (T + 1));
    PeakRow { peak: i, strata: st.layout.strata.assign(Some(&label), Some(spec)), measured, predicted, called }
}

fn bench(c: &mut Criterion) {
    let mut st = state();
    let mut seed = 99u64;
    let rows: Vec<PeakRow> = (0..N).map(|i| row(&st, i, &mut seed)).collect();
    let mut g = c.benchmark_group("eval_100k_peaks");
    g.sample_size(10);
    g.bench_function("push_256_peaks", |b| {
        b.iter_batched(
            || (state(), rows[..256].to_vec()),
            |(mut s, batch)| {
                for r in batch {
                    s.push(r);
                }
                s
            },
            criterion::BatchSize::SmallInput,
        )
    });
    for r in rows {
        st.push(r);
    }
    g.bench_function("snapshot_cheap", |b| b.iter(|| st.snapshot(false)));
    g.bench_function("snapshot_ranked", |b| b.iter(|| st.snapshot(true)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
