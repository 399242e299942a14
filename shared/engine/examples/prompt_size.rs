//! Prints what a language model is sent besides the description: the system prompts and the
//! schemas of both kinds of answer, for measuring their size in tokens.
//!
//! Usage: `cargo run -p procmap-engine --example prompt_size`

use procmap_engine::llm::{answer, operations, prompts};

fn main() {
    let both = serde_json::json!({
        "generation_system": prompts::generation_system(),
        "generation_schema": answer::schema().to_string(),
        "refinement_system": prompts::refinement_system(),
        "refinement_schema": operations::schema().to_string(),
    });
    println!("{both}");
}
