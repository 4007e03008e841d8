//! The architecture invariants that the compiler does not check, checked on the source: the
//! service layer knows nothing of GraphQL or HTTP, and the crate's top-level modules depend on
//! each other without cycles (a cycle is where a rule starts to live in two places).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `path` (or `path` itself).
fn rust_files(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_owned()];
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).expect("readable source dir") {
        let entry = entry.expect("readable entry").path();
        if entry.is_dir() {
            files.extend(rust_files(&entry));
        } else if entry.extension().is_some_and(|extension| extension == "rs") {
            files.push(entry);
        }
    }
    files
}

/// A file's code without its comments, which may name anything.
fn code(path: &Path) -> String {
    std::fs::read_to_string(path)
        .expect("readable source file")
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Top-level module name -> the top-level modules it names as `crate::<module>`.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let modules: BTreeSet<String> = std::fs::read_dir(source_dir())
        .expect("readable source dir")
        .map(|entry| entry.expect("readable entry").path())
        .filter_map(|path| Some(path.file_stem()?.to_str()?.to_owned()))
        .filter(|name| name != "lib" && name != "main")
        .collect();
    let mut graph = BTreeMap::new();
    for module in &modules {
        let root = source_dir().join(module);
        let path = if root.is_dir() {
            root
        } else {
            root.with_extension("rs")
        };
        let mut uses = BTreeSet::new();
        for file in rust_files(&path) {
            let text = code(&file);
            for (index, _) in text.match_indices("crate::") {
                let name: String = text[index + "crate::".len()..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if &name != module && modules.contains(&name) {
                    uses.insert(name);
                }
            }
        }
        graph.insert(module.clone(), uses);
    }
    graph
}

#[test]
fn services_name_no_graphql_or_http_type() {
    let services = rust_files(&source_dir().join("services"));
    assert!(services.len() >= 5, "{services:?}");
    for file in services {
        let text = code(&file);
        for forbidden in [
            "async_graphql",
            "axum",
            "crate::graphql",
            "crate::http",
            "crate::rest",
        ] {
            assert!(
                !text.contains(forbidden),
                "{} names `{forbidden}`",
                file.display()
            );
        }
    }
}

#[test]
fn top_level_modules_depend_on_each_other_without_cycles() {
    let graph = module_graph();
    // Depth-first search for a back edge; the path to it names the cycle.
    fn visit(
        module: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|seen| seen == module) {
            let mut cycle = path[start..].to_vec();
            cycle.push(module.to_owned());
            return Some(cycle);
        }
        if done.contains(module) {
            return None;
        }
        path.push(module.to_owned());
        for next in graph.get(module).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(module.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        if let Some(cycle) = visit(module, &graph, &mut Vec::new(), &mut done) {
            panic!("module cycle: {}", cycle.join(" -> "));
        }
    }
    assert!(
        graph["graphql"].contains("services"),
        "the graph is read: {graph:?}"
    );
}
