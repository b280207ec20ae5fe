//! HDF5 corpora: schema, round trips, accepted layouts and dtypes, streaming reads.

use ndarray::{Array2, Array3, Array4};
use velprior_data::{Corpus, CorpusMeta, CorpusReader, read_corpus, write_corpus};

fn sample_corpus() -> Corpus {
    let v: Vec<f32> = (0..3 * 4 * 5).map(|k| 1500.0 + 7.25 * k as f32).collect();
    let meta = CorpusMeta {
        dx: 12.5,
        dz: 5.0,
        source: "unit test".into(),
    };
    Corpus::new(v, [3, 4, 5], meta).unwrap()
}

#[test]
fn write_then_read_is_exact_and_follows_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.h5");
    let corpus = sample_corpus();
    write_corpus(&path, &corpus).unwrap();
    assert_eq!(read_corpus(&path, None).unwrap(), corpus.clone());

    let file = hdf5::File::open(&path).unwrap();
    let ds = file.dataset("velocity").unwrap();
    assert_eq!(ds.shape(), vec![3, 4, 5]);
    assert_eq!(ds.chunk(), Some(vec![1, 4, 5]), "one model per chunk");
    assert!(
        ds.filters()
            .iter()
            .any(|f| matches!(f, hdf5::filters::Filter::Deflate(_)))
    );
    assert_eq!(ds.attr("dx").unwrap().read_scalar::<f64>().unwrap(), 12.5);
    assert_eq!(ds.attr("dz").unwrap().read_scalar::<f64>().unwrap(), 5.0);
    let units: hdf5::types::VarLenUnicode = ds.attr("units").unwrap().read_scalar().unwrap();
    assert_eq!(units.as_str(), "m/s");
    // No temporary file is left beside the output.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

#[test]
fn streaming_batches_equal_selection() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.h5");
    let corpus = sample_corpus();
    write_corpus(&path, &corpus).unwrap();
    let reader = CorpusReader::open(&path, None).unwrap();
    let batch = reader.read_batch(&[2, 0, 2]).unwrap();
    assert_eq!(batch, corpus.select(&[2, 0, 2]).unwrap().velocity());
    assert_eq!(
        reader.read_range(1, 2).unwrap(),
        corpus.select(&[1, 2]).unwrap().velocity()
    );
    assert!(reader.read_range(2, 2).is_err());
}

#[test]
fn reads_channel_axis_single_model_f64_int_and_named_datasets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("foreign.h5");
    let file = hdf5::File::create(&path).unwrap();
    let v4 = Array4::from_shape_fn((2, 1, 3, 4), |(n, _, z, x)| {
        1500.0 + (n * 100 + z * 10 + x) as f64
    });
    file.new_dataset_builder()
        .with_data(&v4)
        .create("nchw_f64")
        .unwrap();
    let v2 = Array2::from_shape_fn((3, 4), |(z, x)| 2000 + (z * 4 + x) as i32);
    file.new_dataset_builder()
        .with_data(&v2)
        .create("single_int")
        .unwrap();
    let group = file.create_group("models").unwrap();
    let v3 = Array3::from_shape_fn((2, 3, 4), |(n, z, x)| (3000 + n + z + x) as u16);
    group
        .new_dataset_builder()
        .with_data(&v3)
        .create("vp")
        .unwrap();
    drop(group);
    file.close().unwrap();

    let a = read_corpus(&path, Some("nchw_f64")).unwrap();
    assert_eq!(a.shape(), [2, 3, 4]);
    assert_eq!(a.model(1)[5], 1500.0 + 100.0 + 10.0 + 1.0);
    let b = read_corpus(&path, Some("single_int")).unwrap();
    assert_eq!(b.shape(), [1, 3, 4]);
    assert_eq!(b.model(0)[11], 2011.0);
    let c = read_corpus(&path, Some("models/vp")).unwrap();
    assert_eq!(c.model(1)[0], 3001.0);
    assert_eq!(c.meta.dx, 10.0, "missing spacing defaults to 10 m");
}

#[test]
fn bad_files_give_one_line_errors_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.h5");
    let msg = read_corpus(&missing, None).unwrap_err().to_string();
    assert!(
        msg.contains("nope.h5") && msg.contains("not found"),
        "{msg}"
    );

    let text = dir.path().join("text.h5");
    std::fs::write(&text, "hello, not hdf5").unwrap();
    assert!(
        read_corpus(&text, None)
            .unwrap_err()
            .to_string()
            .contains("not an HDF5 file")
    );

    let path = dir.path().join("bad.h5");
    let file = hdf5::File::create(&path).unwrap();
    file.new_dataset_builder()
        .with_data(&ndarray::Array1::from(vec![1.0f32, 2.0]))
        .create("rank1")
        .unwrap();
    let s: hdf5::types::VarLenUnicode = "abc".parse().unwrap();
    file.new_dataset_builder()
        .with_data(&ndarray::arr1(&[s]))
        .create("strings")
        .unwrap();
    file.new_dataset::<f32>()
        .shape((0, 4, 4))
        .create("empty")
        .unwrap();
    let mut nan = Array3::<f32>::from_elem((2, 3, 3), 2000.0);
    nan[[1, 2, 0]] = f32::NAN;
    file.new_dataset_builder()
        .with_data(&nan)
        .create("nan")
        .unwrap();
    let mut neg = Array3::<f32>::from_elem((1, 3, 3), 2000.0);
    neg[[0, 1, 1]] = -5.0;
    file.new_dataset_builder()
        .with_data(&neg)
        .create("negative")
        .unwrap();
    file.close().unwrap();

    let err = |name: &str| read_corpus(&path, Some(name)).unwrap_err().to_string();
    assert!(err("velocity_missing").contains("no dataset 'velocity_missing'"));
    assert!(err("rank1").contains("expected (N, H, W)"));
    assert!(err("strings").contains("not numbers"));
    assert!(err("empty").contains("empty"));
    let e = err("nan");
    assert!(e.contains("NaN") && e.contains("model 1, z 2, x 0"), "{e}");
    assert!(err("negative").contains("non-positive"));
    for name in ["rank1", "strings", "empty", "nan", "negative"] {
        assert_eq!(err(name).lines().count(), 1, "{name}: one line");
    }
}
