//! One-hot encoding of DNA in ACGT channel order, shape (N, 4, L).
//!
//! `A C G T` (either case) set one channel to 1; `N` and every other IUPAC letter
//! (R, Y, S, W, K, M, B, D, H, V) and any other byte give an all-zero column.
use ndarray::{Array2, Array3, ArrayViewMut2};

/// Channel of a base, or `None` for N / ambiguity codes.
#[inline]
pub fn base_index(b: u8) -> Option<usize> {
    match b {
        b'A' | b'a' => Some(0),
        b'C' | b'c' => Some(1),
        b'G' | b'g' => Some(2),
        b'T' | b't' => Some(3),
        _ => None,
    }
}

pub const BASES: [u8; 4] = *b"ACGT";

/// Write the encoding of `seq` into a zeroed (4, L) view.
pub fn encode_into(seq: &[u8], mut out: ArrayViewMut2<f32>) {
    assert_eq!(out.shape(), &[4, seq.len()], "one-hot buffer shape");
    out.fill(0.0);
    for (j, &b) in seq.iter().enumerate() {
        if let Some(c) = base_index(b) {
            out[[c, j]] = 1.0;
        }
    }
}

/// (4, L) encoding of one sequence.
pub fn one_hot(seq: &[u8]) -> Array2<f32> {
    let mut a = Array2::zeros((4, seq.len()));
    encode_into(seq, a.view_mut());
    a
}

/// (N, 4, L) encoding of equal-length sequences.
pub fn one_hot_batch<S: AsRef<[u8]>>(seqs: &[S]) -> Array3<f32> {
    let l = seqs.first().map(|s| s.as_ref().len()).unwrap_or(0);
    let mut a = Array3::zeros((seqs.len(), 4, l));
    for (i, s) in seqs.iter().enumerate() {
        let s = s.as_ref();
        assert_eq!(s.len(), l, "one_hot_batch: sequences of unequal length");
        encode_into(s, a.index_axis_mut(ndarray::Axis(0), i));
    }
    a
}

/// Reverse complement; N and IUPAC codes map to their complements where defined.
pub fn reverse_complement(seq: &[u8]) -> Vec<u8> {
    seq.iter()
        .rev()
        .map(|&b| match b.to_ascii_uppercase() {
            b'A' => b'T',
            b'C' => b'G',
            b'G' => b'C',
            b'T' => b'A',
            b'R' => b'Y',
            b'Y' => b'R',
            b'K' => b'M',
            b'M' => b'K',
            b'B' => b'V',
            b'V' => b'B',
            b'D' => b'H',
            b'H' => b'D',
            other => other, // N, S, W
        })
        .collect()
}

/// Fraction of positions that are not A/C/G/T.
pub fn n_fraction(seq: &[u8]) -> f64 {
    if seq.is_empty() {
        return 0.0;
    }
    seq.iter().filter(|&&b| base_index(b).is_none()).count() as f64 / seq.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_acgt_channels_and_zero_columns() {
        let a = one_hot(b"ACGTNRa");
        assert_eq!(a.shape(), &[4, 7]);
        let cols: Vec<Vec<f32>> = (0..7).map(|j| (0..4).map(|c| a[[c, j]]).collect()).collect();
        assert_eq!(cols[0], [1., 0., 0., 0.]);
        assert_eq!(cols[1], [0., 1., 0., 0.]);
        assert_eq!(cols[2], [0., 0., 1., 0.]);
        assert_eq!(cols[3], [0., 0., 0., 1.]);
        assert_eq!(cols[4], [0., 0., 0., 0.]); // N
        assert_eq!(cols[5], [0., 0., 0., 0.]); // IUPAC R
        assert_eq!(cols[6], [1., 0., 0., 0.]); // lower-case a
    }

    #[test]
    fn batch_shape_and_rc() {
        let b = one_hot_batch(&[b"AC".to_vec(), b"GT".to_vec(), b"NN".to_vec()]);
        assert_eq!(b.shape(), &[3, 4, 2]);
        assert_eq!(b.sum(), 4.0);
        assert_eq!(reverse_complement(b"AACGTN"), b"NACGTT");
        assert_eq!(reverse_complement(b"acgR"), b"YCGT");
        assert!((n_fraction(b"ANNA") - 0.5).abs() < 1e-12);
    }
}
