//! A bounded mutation fuzzer on stable Rust for the core's parsers and state decoders (cargo-fuzz
//! needs nightly; its targets in `fuzz/` call the same entry points). Mutates valid seeds for the
//! given number of seconds; a panic prints the input (hex) and exits non-zero.
//! Usage: cargo run --release -p customer_tiers_core --example fuzz -- [seconds] [seed]
use customer_tiers_core::fuzz::{seeds, states, tag_expression, Mutator};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(30);
    let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0x5EED);
    let corpus = seeds();
    let mut m = Mutator(seed | 1);
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut runs: u64 = 0;
    while Instant::now() < end {
        for _ in 0..1000 {
            let base = &corpus[(runs as usize) % corpus.len()];
            let input = m.mutate(base);
            let again = m.mutate(&input);
            for data in [&input, &again] {
                let result = std::panic::catch_unwind(|| {
                    states(data);
                    tag_expression(data);
                });
                if result.is_err() {
                    let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
                    eprintln!("panic on input {hex}");
                    std::process::exit(1);
                }
            }
            runs += 2;
        }
    }
    println!("fuzz: {runs} inputs in {seconds} s, no panic");
}
