//! Statistical models over journey data, free of storage and I/O: VADER
//! sentiment (with its lexicon shipped as data under its MIT licence) and the
//! significance tests the pain-point finder uses. The engine builds the inputs
//! (texts, counts, samples) from timelines and calls these.

pub mod sentiment;
pub mod stats;
