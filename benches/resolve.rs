//! Loading (parsing) and resolving against a large index: 10,000 packs × 5 versions.

use std::hint::black_box;

use attune_pack::fuzzing::bench::{load_pre_parsed, parse_index, pre_parse};
use attune_pack::VersionSpec;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::json;

const PACKS: usize = 10_000;
const VERSIONS: [&str; 5] = ["0.9.0", "1.0.0", "1.2.3", "1.10.0", "2.0.0-rc.1"];

fn big_index() -> Vec<u8> {
    let sum = format!("sha256:{}", "ab".repeat(32));
    let packs: Vec<_> = (0..PACKS)
        .flat_map(|i| {
            let sum = sum.clone();
            VERSIONS.iter().map(move |v| {
                json!({
                    "ref": format!("pack-{i:05}"), "label": format!("Pack {i}"), "version": v,
                    "description": "A generated pack for the resolve benchmark",
                    "author": "bench", "license": "MIT", "keywords": ["bench", format!("k{}", i % 97)],
                    "runtime_deps": [],
                    "install_sources": [
                        {"type": "git", "url": format!("https://git.example/p{i}.git"), "ref": format!("v{v}"), "checksum": sum},
                        {"type": "archive", "url": format!("https://cdn.example/p{i}-{v}.tgz"), "checksum": sum}
                    ],
                    "contents": {"actions": [{"name": "run", "description": "Runs"}], "sensors": [], "triggers": [], "rules": [], "workflows": []},
                    "dependencies": {"attune_version": ">=0.2", "packs": ["core@^1"]}
                })
            })
        })
        .collect();
    serde_json::to_vec(&json!({"registry_name": "bench", "version": "1.0", "packs": packs}))
        .unwrap()
}

fn specs() -> [VersionSpec; 5] {
    ["latest", "1.2.3", "^1", "~1.2", "2.0.0-rc.1"].map(|s| VersionSpec::parse(s).unwrap())
}

fn pack(name: &str) -> attune_pack::PackRef {
    name.parse().unwrap()
}

fn bench(c: &mut Criterion) {
    let doc = big_index();
    let mut group = c.benchmark_group("index_50k_entries");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(doc.len() as u64));
    group.bench_function("load", |b| b.iter(|| parse_index(black_box(&doc))));
    // What serde_json alone needs for the same document, to see what entry validation adds.
    group.bench_function("serde_json_value_baseline", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&doc)).unwrap())
    });
    // A warm cache: the pre-parsed form instead of the document.
    let form = pre_parse(&doc);
    group.bench_function("load_pre_parsed", |b| {
        b.iter(|| load_pre_parsed(black_box(&form), &doc))
    });
    group.finish();

    let lazy = load_pre_parsed(&form, &doc);
    c.bench_function("resolve_one_pre_parsed/5_specs", |b| {
        b.iter(|| {
            for spec in &specs() {
                black_box(lazy.resolve(black_box(&pack("pack-07777")), spec));
            }
        })
    });

    let index = parse_index(&doc);
    assert_eq!(index.len(), PACKS * VERSIONS.len());
    let specs = specs();
    c.bench_function("resolve_one/5_specs", |b| {
        b.iter(|| {
            for spec in &specs {
                black_box(index.resolve(black_box(&pack("pack-07777")), spec));
            }
        })
    });
    c.bench_function("resolve_all_10k_packs/latest", |b| {
        b.iter(|| {
            for i in 0..PACKS {
                black_box(index.resolve(&pack(&format!("pack-{i:05}")), &specs[0]));
            }
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
