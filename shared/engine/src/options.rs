//! The three options of an initial generation. Every modeler, builtin or language model,
//! produces one model per [`OptionStyle`], and the three are different modeling choices, not
//! three samples of one:
//! 1. the process as described, concise, without lanes;
//! 2. the same with exception handling: inputs are checked and a failed check has its own path;
//! 3. the same with a lane per actor, so responsibilities are visible.

/// The number of an initial generation's option, and the modeling choice it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionStyle {
    Concise,
    WithExceptionHandling,
    LanePerActor,
}

impl OptionStyle {
    pub const ALL: [OptionStyle; 3] = [
        Self::Concise,
        Self::WithExceptionHandling,
        Self::LanePerActor,
    ];
}
