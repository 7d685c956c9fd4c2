//! Whole-report regressions of splat's text: every fixture's and every corpus file's rendering
//! (titles, locks, cycles, explanations, fixes) against its snapshot in `tests/snapshots/`
//! (insta). A change to what splat says shows as a diff of the whole text; after checking it,
//! `INSTA_UPDATE=always cargo test -p splat --test explanations` writes the new snapshots.

use std::path::Path;

fn render_dir(dir: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("the test logs")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no logs in {}", dir.display());
    for file in files {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let log = std::fs::read(&file).expect("read the log");
        let text = splat::to_text(&splat::parse_bytes(&log));
        insta::assert_snapshot!(name, text);
    }
}

#[test]
fn fixtures_explained() {
    render_dir("fixtures");
}

#[test]
fn corpus_explained() {
    render_dir("corpus");
}
