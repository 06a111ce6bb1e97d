//! What a run writes (in progress).
