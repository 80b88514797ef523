//! Extraction throughput: a generated 5,000-file pack as .tar.gz, .zip and a directory,
//! written through the path-safety TreeWriter with per-file digests and the archive hash.

use std::io::Write;
use std::path::{Path, PathBuf};

use attune_pack::fuzzing::bench::{copy_directory, extract_file};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

const FILES: usize = 5_000;

/// A pack of FILES small files (1-4 KiB, mixed text) under a few directories.
fn make_pack(root: &Path) -> u64 {
    let mut total = 0;
    std::fs::create_dir_all(root).unwrap();
    std::fs::write(root.join("pack.yaml"), "ref: bench\nversion: 1.0.0\n").unwrap();
    for i in 0..FILES {
        let dir = root.join(format!("actions/group{}", i % 50));
        std::fs::create_dir_all(&dir).unwrap();
        let body = format!(
            "name: action{i}\n# {}\n",
            "x".repeat(1024 + (i * 37) % 3072)
        );
        total += body.len() as u64;
        std::fs::write(dir.join(format!("a{i}.yaml")), body).unwrap();
    }
    total
}

fn make_tgz(src: &Path, out: &Path) {
    let file = std::fs::File::create(out).unwrap();
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.append_dir_all(".", src).unwrap();
    tar.into_inner().unwrap().finish().unwrap().flush().unwrap();
}

fn make_zip(src: &Path, out: &Path) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(out).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    for entry in walkdir::WalkDir::new(src).sort_by_file_name() {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let name = entry.path().strip_prefix(src).unwrap().to_str().unwrap();
            zip.start_file(name, opts).unwrap();
            zip.write_all(&std::fs::read(entry.path()).unwrap())
                .unwrap();
        }
    }
    zip.finish().unwrap();
}

fn fresh_target(base: &Path) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir_in(base).unwrap();
    let root = dir.path().join("tree");
    std::fs::create_dir(&root).unwrap();
    (dir, root)
}

fn bench(c: &mut Criterion) {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("pack");
    let bytes = make_pack(&src);
    let tgz = work.path().join("pack.tar.gz");
    let zip = work.path().join("pack.zip");
    make_tgz(&src, &tgz);
    make_zip(&src, &zip);

    let mut group = c.benchmark_group("materialize_5000_files");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(bytes));
    for (name, path) in [("tar.gz", &tgz), ("zip", &zip)] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || fresh_target(work.path()),
                // The temp dir is returned so its removal is not timed.
                |(keep, root)| (keep, extract_file(path, &root)),
                BatchSize::PerIteration,
            )
        });
    }
    group.bench_function("directory", |b| {
        b.iter_batched(
            || fresh_target(work.path()),
            |(keep, root)| (keep, copy_directory(&src, &root)),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
