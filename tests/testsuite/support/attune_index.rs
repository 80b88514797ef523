//! A mirror of Attune's own index types (AndroxxTraxxon/attune,
//! `crates/common/src/pack_registry/mod.rs`): the same fields, the same optionality and the
//! same serde attributes, so a document these types read is one Attune reads. Attune refuses a
//! whole index when one entry does not fit them. Only deserialization matters here.

#![allow(dead_code)]

use std::collections::HashMap;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct PackIndex {
    pub registry_name: String,
    pub registry_url: String,
    pub version: String,
    pub last_updated: String,
    pub packs: Vec<PackIndexEntry>,
}

#[derive(Debug, Deserialize)]
pub struct PackIndexEntry {
    #[serde(rename = "ref")]
    pub pack_ref: String,
    pub label: String,
    pub description: String,
    pub version: String,
    pub author: String,
    pub email: Option<String>,
    pub homepage: Option<String>,
    pub repository: Option<String>,
    pub license: String,
    #[serde(default)]
    pub keywords: Vec<String>,
    pub runtime_deps: Vec<String>,
    pub install_sources: Vec<InstallSource>,
    pub contents: PackContents,
    pub dependencies: Option<PackDependencies>,
    pub meta: Option<PackMeta>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum InstallSource {
    Git {
        url: String,
        #[serde(rename = "ref")]
        git_ref: Option<String>,
        checksum: String,
    },
    Archive {
        url: String,
        checksum: String,
    },
}

#[derive(Debug, Default, Deserialize)]
pub struct PackContents {
    #[serde(default)]
    pub actions: Vec<ComponentSummary>,
    #[serde(default)]
    pub sensors: Vec<ComponentSummary>,
    #[serde(default)]
    pub triggers: Vec<ComponentSummary>,
    #[serde(default)]
    pub rules: Vec<ComponentSummary>,
    #[serde(default)]
    pub workflows: Vec<ComponentSummary>,
}

#[derive(Debug, Deserialize)]
pub struct ComponentSummary {
    pub name: String,
    pub description: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct PackDependencies {
    pub attune_version: Option<String>,
    pub python_version: Option<String>,
    pub nodejs_version: Option<String>,
    #[serde(default)]
    pub packs: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PackMeta {
    pub downloads: Option<u64>,
    pub stars: Option<u64>,
    #[serde(default)]
    pub tested_attune_versions: Vec<String>,
    #[serde(flatten)]
    pub extra: HashMap<String, serde_json::Value>,
}

/// Reads `text` as Attune would; panics with serde's reason (and the document) when Attune
/// would refuse it.
pub fn attune_reads(text: &str) -> PackIndex {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("Attune refuses this index: {e}\n{text}"))
}

/// Reads one entry, wrapped in an index as Attune would meet it.
pub fn attune_reads_entry(entry: &serde_json::Value) -> PackIndexEntry {
    let doc = serde_json::json!({
        "registry_name": "r", "registry_url": "u", "version": "1.0",
        "last_updated": "2024-01-01T00:00:00Z", "packs": [entry],
    });
    attune_reads(&doc.to_string()).packs.remove(0)
}
