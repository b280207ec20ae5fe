//! Velocity-model corpora.
