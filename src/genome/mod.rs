//! Pure, synchronous genomic data access: loci and chromosome aliases, FASTA and one-hot
//! encoding, bigWig values and summaries, peak sets and gene annotations.
//!
//! Nothing in here spawns threads or touches the terminal. Readers are `Send` so a worker
//! thread can own them; none are `Sync`.

pub mod bigwig;
pub mod chroms;
pub mod fasta;
pub mod genes;
pub mod locus;
pub mod motifs;
pub mod onehot;
pub mod peak_index;
pub mod peaks;
pub mod shuffle;
pub mod sniff;
pub mod textio;
pub mod variants;

pub use bigwig::{BigWig, BinSummary, IntervalStats};
pub use chroms::ChromNames;
pub use fasta::Fasta;
pub use locus::{Locus, LocusQuery};
pub use peaks::{Peak, PeakSet};
