//! A corpus far larger than the machine is refused before anything is allocated, with what it
//! needs and how to ask for less. Catches the reader allocating first (the process aborts with
//! "memory allocation of 40000000000 bytes failed").

use velprior_data::CorpusReader;
use velprior_data::memory::available_bytes;

#[test]
fn reading_a_model_larger_than_memory_is_an_error() {
    if available_bytes().is_none() {
        return; // not Linux: the check is off
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.h5");
    {
        // 1 × 100,000 × 100,000 f32 (40 GB), chunked and never written: a tiny file.
        let file = hdf5::File::create(&path).unwrap();
        file.new_dataset::<f32>()
            .chunk((1, 100, 100))
            .shape((1, 100_000, 100_000))
            .create("velocity")
            .unwrap();
    }
    let reader = CorpusReader::open(&path, None).unwrap();
    let e = reader.read_range(0, 1).unwrap_err().to_string();
    assert!(
        e.contains("1 models of 100000x100000 need 37.3 GiB") && e.contains("--count"),
        "{e}"
    );
    assert!(!e.contains('\n'), "{e}");
    // `velprior data show` reads by index: the same check (it aborted there).
    let e = reader.read_batch(&[0]).unwrap_err().to_string();
    assert!(e.contains("need 37.3 GiB") && e.contains("--count"), "{e}");
}
