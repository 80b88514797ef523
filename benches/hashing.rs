//! Hashing throughput: `file_checksum` (what `attune-pack checksum` and checksum verification
//! of a local file run) over a 256 MiB file, for each algorithm an index may name.

use std::io::Write;

use attune_pack::{file_checksum, Algorithm};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const BYTES: usize = 256 << 20;

fn bench(c: &mut Criterion) {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    // Not zeros: a pattern no layer below can shortcut.
    let block: Vec<u8> = (0..1 << 20)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for _ in 0..BYTES / block.len() {
        file.write_all(&block).unwrap();
    }
    file.flush().unwrap();
    let mut group = c.benchmark_group("file_checksum_256MiB");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(BYTES as u64));
    for algorithm in [
        Algorithm::Sha256,
        Algorithm::Sha512,
        Algorithm::Sha1,
        Algorithm::Md5,
    ] {
        group.bench_function(format!("{algorithm:?}"), |b| {
            b.iter(|| file_checksum(file.path(), algorithm).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
