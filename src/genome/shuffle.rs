//! Sequence shuffles and motif insertion for marginalisation experiments.
//!
//! [`dinucleotide_shuffle`] is the Altschul–Erickson shuffle done as a random Eulerian path
//! (Kandel et al. 1996; the algorithm of MEME's `fasta-shuffle-letters -kmer 2`, uShuffle
//! and tangermeme's `dinucleotide_shuffle`): the sequence is a walk on the multigraph whose
//! vertices are letters and whose edges are its dinucleotides; a uniformly random spanning
//! arborescence of "last exits" towards the final letter is drawn (Wilson's loop-erased
//! random walk), every other exit list is permuted, and the walk from the first letter that
//! uses the exits in that order is a uniformly random sequence with exactly the same
//! dinucleotide counts (so the same letter counts, first and last letter).
//!
//! Letters are compared case-insensitively after upper-casing; anything that is not A/C/G/T
//! (N, IUPAC codes) is one letter `N` of its own, as tangermeme does with `allow_N`: runs of
//! N keep their length and their flanking dinucleotides but may move.
use rand::seq::SliceRandom;
use rand::Rng;

/// The shuffle's alphabet: A C G T and one letter for everything else.
const ALPHABET: [u8; 5] = *b"ACGTN";

fn letter(c: u8) -> usize {
    match c {
        b'A' | b'a' => 0,
        b'C' | b'c' => 1,
        b'G' | b'g' => 2,
        b'T' | b't' => 3,
        _ => 4,
    }
}

/// A random sequence with exactly the dinucleotide counts of `seq` (upper-case A/C/G/T; any
/// other byte becomes `N`). Sequences shorter than 3 bases are returned (upper-cased) as
/// they are: their dinucleotides fix them.
pub fn dinucleotide_shuffle<R: Rng + ?Sized>(seq: &[u8], rng: &mut R) -> Vec<u8> {
    let s: Vec<usize> = seq.iter().map(|&c| letter(c)).collect();
    if s.len() < 3 {
        return s.iter().map(|&i| ALPHABET[i]).collect();
    }
    // exits[v]: the letters that follow v, in sequence order
    let mut exits: [Vec<usize>; 5] = Default::default();
    for w in s.windows(2) {
        exits[w[0]].push(w[1]);
    }
    let last = *s.last().unwrap();
    // Wilson's algorithm: a uniform random arborescence rooted at `last` over the letters
    // that have exits; next[v] is v's last exit (one of its out-edges, chosen uniformly).
    let mut in_tree = [false; 5];
    in_tree[last] = true;
    let mut next = [usize::MAX; 5];
    for v in 0..5 {
        if exits[v].is_empty() {
            continue;
        }
        let mut u = v;
        while !in_tree[u] {
            next[u] = exits[u][rng.gen_range(0..exits[u].len())];
            u = next[u];
        }
        u = v;
        while !in_tree[u] {
            in_tree[u] = true;
            u = next[u];
        }
    }
    // permute each exit list, keeping one copy of the tree edge for last
    for v in 0..5 {
        if v == last || exits[v].is_empty() {
            continue;
        }
        let k = exits[v].iter().position(|&x| x == next[v]).expect("tree edge is an exit");
        let n = exits[v].len();
        exits[v].swap(k, n - 1);
        exits[v][..n - 1].shuffle(rng);
    }
    exits[last].shuffle(rng);
    let mut out = Vec::with_capacity(s.len());
    let mut used = [0usize; 5];
    let mut u = s[0];
    out.push(ALPHABET[u]);
    for _ in 1..s.len() {
        let x = exits[u][used[u]];
        used[u] += 1;
        u = x;
        out.push(ALPHABET[u]);
    }
    out
}

/// Dinucleotide counts over the shuffle's alphabet (A C G T N), row = first letter.
pub fn dinucleotide_counts(seq: &[u8]) -> [[usize; 5]; 5] {
    let mut c = [[0usize; 5]; 5];
    for w in seq.windows(2) {
        c[letter(w[0])][letter(w[1])] += 1;
    }
    c
}

/// Where a motif of width `w` goes in a sequence of length `len`: its middle on the
/// sequence's middle, start `len / 2 − w / 2` (tangermeme's `substitute` default).
pub fn centre_start(len: usize, w: usize) -> usize {
    (len / 2).saturating_sub(w / 2)
}

/// `background` with `site` written over it at [`centre_start`] (a substitution: the length
/// is unchanged). `site` must not be longer than `background`.
pub fn insert_at_centre(background: &[u8], site: &[u8]) -> Vec<u8> {
    let mut s = background.to_vec();
    let a = centre_start(s.len(), site.len());
    s[a..a + site.len()].copy_from_slice(site);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn letters() -> impl Strategy<Value = Vec<u8>> {
        // mostly ACGT, with N runs and lower case and an IUPAC code now and then
        proptest::collection::vec(
            prop_oneof![8 => proptest::sample::select(b"ACGT".to_vec()), 1 => Just(b'N'), 1 => proptest::sample::select(b"acgtRY".to_vec())],
            0..400,
        )
    }

    proptest! {
        #[test]
        fn counts_first_and_last_letters_are_preserved(seq in letters(), seed in any::<u64>()) {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let out = dinucleotide_shuffle(&seq, &mut rng);
            prop_assert_eq!(out.len(), seq.len());
            prop_assert_eq!(dinucleotide_counts(&out), dinucleotide_counts(&seq));
            if !seq.is_empty() {
                prop_assert_eq!(letter(out[0]), letter(seq[0]));
                prop_assert_eq!(letter(*out.last().unwrap()), letter(*seq.last().unwrap()));
            }
            prop_assert!(out.iter().all(|c| b"ACGTN".contains(c)));
        }

        #[test]
        fn the_same_seed_gives_the_same_shuffle(seq in letters(), seed in any::<u64>()) {
            let a = dinucleotide_shuffle(&seq, &mut ChaCha8Rng::seed_from_u64(seed));
            let b = dinucleotide_shuffle(&seq, &mut ChaCha8Rng::seed_from_u64(seed));
            prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn shuffles_actually_move_bases_and_reach_every_arrangement() {
        // ACGTACGTAACCGGTT has many Eulerian paths; the shuffle must not be the identity
        let seq = b"AACCGGTTACGTAGCTTGCAAGGCCTTA".repeat(8);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let outs: std::collections::HashSet<Vec<u8>> = (0..50).map(|_| dinucleotide_shuffle(&seq, &mut rng)).collect();
        assert!(outs.len() > 40, "only {} distinct shuffles", outs.len());
        // a tiny sequence with exactly two arrangements: ACAGA / AGACA (dinucs AC CA AG GA)
        let mut seen = std::collections::HashMap::new();
        for _ in 0..2000 {
            *seen.entry(dinucleotide_shuffle(b"ACAGA", &mut rng)).or_insert(0) += 1;
        }
        assert_eq!(seen.len(), 2, "{seen:?}");
        // uniform over the two
        assert!(seen.values().all(|&n| (800..1200).contains(&n)), "{seen:?}");
    }

    #[test]
    fn insertion_is_centred_like_tangermeme() {
        assert_eq!(centre_start(10, 3), 4);
        assert_eq!(centre_start(11, 4), 3);
        assert_eq!(insert_at_centre(b"AAAAAAAAAA", b"CGT"), b"AAAACGTAAA");
        assert_eq!(insert_at_centre(b"AAAA", b"CGTT"), b"CGTT");
    }
}
