//! Statistical models over journey data, free of storage and I/O: VADER
//! sentiment (with its lexicon shipped as data under its MIT licence), the
//! significance tests the pain-point finder uses, customer lifetime value
//! (BG/NBD and Gamma-Gamma), multi-touch attribution, and clustering. The
//! engine builds the inputs (texts, counts, RFM, paths, feature matrices)
//! from timelines and calls these.

pub mod attribution;
pub mod cluster;
pub mod clv;
pub mod linalg;
pub mod optim;
pub mod recommend;
pub mod sentiment;
pub mod special;
pub mod stats;
