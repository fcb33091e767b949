//! Bounded mutation fuzzing on the stable toolchain (no nightly, so no `cargo fuzz`/libFuzzer).
//!
//! For each target it takes a seed corpus (the shipped and broken configs, recorded DSS and
//! GitHub JSON bodies), applies random byte- and token-level mutations (flips, inserts,
//! deletions, truncations, splices between seeds, repeated brackets for deep nesting) for a
//! fixed wall-clock budget, and calls the same parsing code fleetsync runs on real input. A
//! panic is a failure: the input is written to `fuzz/artifacts/` and the process exits 1.
//! It is not coverage-guided; it is a bounded smoke fuzzer that CI can afford on every run.
//!
//! Usage: `fleetsync-fuzz <config|dss-json|github-json|all> [seconds] [seed]`

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn files(dir: &Path, ext: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == ext) {
                if let Ok(b) = std::fs::read(&p) {
                    out.push(b);
                }
            }
        }
    }
    out
}

const TOKENS: &[&[u8]] = &[
    b"[",
    b"]",
    b"{",
    b"}",
    b"\"",
    b"=",
    b",",
    b":",
    b"\n",
    b"[[dss]]\n",
    b"[github]\n",
    b"{{",
    b"}}",
    b"{%",
    b"%}",
    b"\\u0000",
    b"\xff",
    b"null",
    b"true",
    b"1e999",
    b"-0",
    b"\"\"\"",
    b"'''",
    b"\xc3\xa9",
    b"../../",
    b"0x",
    b"9999999999999999999999",
];

fn mutate(rng: &mut StdRng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut d = seeds[rng.gen_range(0..seeds.len())].clone();
    for _ in 0..rng.gen_range(1..8) {
        let len = d.len();
        match rng.gen_range(0..8) {
            0 if len > 0 => {
                let i = rng.gen_range(0..len);
                d[i] ^= 1 << rng.gen_range(0..8);
            }
            1 if len > 0 => {
                let i = rng.gen_range(0..len);
                let n = rng.gen_range(1..=(len - i).min(64));
                d.drain(i..i + n);
            }
            2 => {
                let i = rng.gen_range(0..=len);
                let t = TOKENS[rng.gen_range(0..TOKENS.len())];
                d.splice(i..i, t.iter().copied());
            }
            3 if len > 0 => d.truncate(rng.gen_range(0..len)),
            4 => {
                let other = &seeds[rng.gen_range(0..seeds.len())];
                if !other.is_empty() {
                    let a = rng.gen_range(0..other.len());
                    let b = rng.gen_range(a..=other.len());
                    let i = rng.gen_range(0..=len);
                    d.splice(i..i, other[a..b].iter().copied());
                }
            }
            5 => {
                // Deep nesting.
                let i = rng.gen_range(0..=len);
                let t: &[u8] = if rng.gen_bool(0.5) { b"[" } else { b"{\"a\":" };
                let n = rng.gen_range(1..4000);
                let rep: Vec<u8> = t.iter().copied().cycle().take(t.len() * n).collect();
                d.splice(i..i, rep);
            }
            6 if len > 1 => {
                let i = rng.gen_range(0..len);
                let j = rng.gen_range(0..len);
                d.swap(i, j);
            }
            _ => {
                let i = rng.gen_range(0..=len);
                d.insert(i, rng.gen());
            }
        }
    }
    d
}

fn run_config(input: &[u8]) {
    let text = String::from_utf8_lossy(input);
    let path = root().join("tests/configs/fuzz-input.toml");
    let _ = fleetsync::config::load_str(&path, &text);
}

fn run_dss(input: &[u8]) {
    let _ = fleetsync::dss::decode_projects(input);
    let _ = fleetsync::dss::decode_plugins(input);
}

fn run_github(input: &[u8]) {
    use fleetsync::github::wire::*;
    let _ = serde_json::from_slice::<Repo>(input);
    let _ = serde_json::from_slice::<Vec<Repo>>(input);
    let _ = serde_json::from_slice::<Tree>(input);
    let _ = serde_json::from_slice::<GitRef>(input);
    let _ = serde_json::from_slice::<PublicKey>(input);
    let _ = serde_json::from_slice::<SecretList>(input);
    let _ = serde_json::from_slice::<VariableList>(input);
    let _ = serde_json::from_slice::<FileContent>(input);
    let _ = serde_json::from_slice::<FileCommit>(input);
}

fn fuzz(name: &str, seeds: Vec<Vec<u8>>, f: fn(&[u8]), budget: Duration, seed: u64) -> bool {
    let seeds = if seeds.is_empty() {
        vec![Vec::new()]
    } else {
        seeds
    };
    let mut rng = StdRng::seed_from_u64(seed);
    let start = Instant::now();
    let mut n: u64 = 0;
    for s in &seeds {
        if catch_unwind(AssertUnwindSafe(|| f(s))).is_err() {
            return report(name, s);
        }
    }
    while start.elapsed() < budget {
        let input = mutate(&mut rng, &seeds);
        n += 1;
        if catch_unwind(AssertUnwindSafe(|| f(&input))).is_err() {
            return report(name, &input);
        }
    }
    println!(
        "fuzz {name}: {n} inputs in {:.0}s, {} seeds, no panic",
        start.elapsed().as_secs_f64(),
        seeds.len()
    );
    true
}

fn report(name: &str, input: &[u8]) -> bool {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("artifacts");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{name}-crash-{}", input.len()));
    let _ = std::fs::write(&path, input);
    eprintln!("fuzz {name}: PANIC; input saved to {}", path.display());
    false
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let target = args.get(1).map(String::as_str).unwrap_or("all");
    let secs: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(60);
    let seed: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    // Quiet the default hook's output per caught panic; the report says what happened.
    std::panic::set_hook(Box::new(|info| eprintln!("panic: {info}")));
    let budget = Duration::from_secs(secs);
    let r = root();
    let mut ok = true;
    if matches!(target, "config" | "all") {
        let mut seeds = files(&r.join("tests/configs"), "toml");
        seeds.extend(files(&r.join("tests/configs/broken"), "toml"));
        seeds.extend(files(&r.join("config"), "toml"));
        ok &= fuzz("config", seeds, run_config, budget, seed);
    }
    if matches!(target, "dss-json" | "all") {
        let seeds = files(&r.join("fuzz/corpus/dss"), "json");
        ok &= fuzz("dss-json", seeds, run_dss, budget, seed);
    }
    if matches!(target, "github-json" | "all") {
        let seeds = files(&r.join("fuzz/corpus/github"), "json");
        ok &= fuzz("github-json", seeds, run_github, budget, seed);
    }
    std::process::exit(if ok { 0 } else { 1 });
}
