//! Attune's registry index document (the reference's "Registry index format"), read leniently: one bad pack
//! entry costs that entry (with a warning naming the index, the entry and the field), not the
//! whole index; only a document that is not an index at all makes the index unavailable.

use std::collections::HashMap;
use std::sync::Arc;

use semver::Version;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::model::checksum::Checksum;
use crate::model::pack_ref::{PackRef, REF_RULE};
use crate::pack::locate::Subdir;
use crate::pack::manifest::parse_lenient_version;

use super::summaries::{self, Summaries};
pub use super::summaries::{Span, Summary};

/// A parsed index: its valid pack entries, findable by ref. Entries are kept as summaries;
/// a whole entry is parsed again from its text in the document when it is asked for (most
/// commands need one entry of tens of thousands, and whole entries would cost several times
/// the document's size in memory).
#[derive(Debug, Clone)]
pub struct Index {
    /// The document's `last_updated` (Unix seconds), when it is RFC 3339.
    pub last_updated: Option<u64>,
    summaries: Summaries,
    document: Arc<dyn EntryBytes>,
    /// The index's name, for the errors of entries read later.
    name: String,
}

/// The document an index reads its entries' text from.
pub trait EntryBytes: std::fmt::Debug + Send + Sync {
    /// The bytes at `span` of the document.
    fn read(&self, span: Span) -> std::io::Result<Vec<u8>>;
}

/// A document in memory (one just downloaded or read from a file).
#[derive(Debug)]
pub struct InMemory(pub Vec<u8>);

impl EntryBytes for InMemory {
    fn read(&self, span: Span) -> std::io::Result<Vec<u8>> {
        usize::try_from(span.start)
            .ok()
            .zip(usize::try_from(span.len).ok())
            .and_then(|(start, len)| self.0.get(start..start.checked_add(len)?))
            .map(<[u8]>::to_vec)
            .ok_or_else(|| std::io::Error::other("beyond the end of the document"))
    }
}

/// One pack version of an index (Attune's entry format).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PackEntry {
    /// The pack's ref.
    #[serde(rename = "ref")]
    pub pack_ref: PackRef,
    /// Its label.
    pub label: String,
    /// What it is for.
    pub description: String,
    /// This entry's version.
    pub version: Version,
    /// Who wrote it; empty when the pack does not say (Attune requires the string).
    pub author: String,
    /// Its license; empty when the pack does not say (Attune requires the string).
    pub license: String,
    /// Its author's email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Its web page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub homepage: Option<String>,
    /// Its source repository.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Words to find it by.
    pub keywords: Vec<String>,
    /// What it needs on the host (free text, as pack.yaml says it).
    pub runtime_deps: Vec<String>,
    /// Where it can be fetched from, with the checksums to verify.
    pub install_sources: Vec<InstallSource>,
    /// What it provides.
    pub contents: Contents,
    /// What it needs of Attune, Python, Node.js and other packs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dependencies: Option<Dependencies>,
    /// Anything else the index says about it, kept as is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<Value>,
}

/// Where an entry's pack can be fetched from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum InstallSource {
    /// A git repository.
    Git {
        /// The repository's URL (or a path relative to the index).
        url: String,
        /// The branch, tag or commit.
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        git_ref: Option<String>,
        /// The content checksum of the checked-out pack.
        #[serde(serialize_with = "checksum_text")]
        checksum: Option<Checksum>,
        /// The pack's directory inside the repository (Attune ignores it).
        #[serde(skip_serializing_if = "Option::is_none")]
        subdir: Option<String>,
    },
    /// An archive (.tar.gz, .zip, .tar).
    Archive {
        /// The archive's URL (or a path relative to the index).
        url: String,
        /// The checksum of the archive bytes.
        #[serde(serialize_with = "checksum_text")]
        checksum: Option<Checksum>,
        /// The pack's directory inside the archive (Attune ignores it).
        #[serde(skip_serializing_if = "Option::is_none")]
        subdir: Option<String>,
    },
    /// An OCI artifact (`oci://HOST/REPO@sha256:…`, or a tag).
    Oci {
        /// The OCI reference.
        url: String,
        /// The content checksum of the pack (its digest pins the bytes already).
        #[serde(serialize_with = "checksum_text")]
        checksum: Option<Checksum>,
    },
}

impl InstallSource {
    /// Where the source is, as the index writes it.
    pub fn url(&self) -> &str {
        match self {
            InstallSource::Git { url, .. }
            | InstallSource::Archive { url, .. }
            | InstallSource::Oci { url, .. } => url,
        }
    }

    /// The checksum it must have, if the index gives one.
    pub fn checksum(&self) -> Option<&Checksum> {
        match self {
            InstallSource::Git { checksum, .. }
            | InstallSource::Archive { checksum, .. }
            | InstallSource::Oci { checksum, .. } => checksum.as_ref(),
        }
    }

    /// The pack's directory inside the repository or archive, when the index names one.
    pub fn subdir(&self) -> Option<&str> {
        match self {
            InstallSource::Git { subdir, .. } | InstallSource::Archive { subdir, .. } => {
                subdir.as_deref()
            }
            InstallSource::Oci { .. } => None,
        }
    }

    /// `git`, `archive` or `oci`.
    pub fn kind(&self) -> &'static str {
        match self {
            InstallSource::Git { .. } => "git",
            InstallSource::Archive { .. } => "archive",
            InstallSource::Oci { .. } => "oci",
        }
    }
}

/// Attune requires a checksum string in every source: one not known is written empty (read
/// back as absent), never `null`, which would make Attune refuse the whole index.
fn checksum_text<S: Serializer>(c: &Option<Checksum>, s: S) -> Result<S::Ok, S::Error> {
    match c {
        Some(c) => s.serialize_str(&c.to_string()),
        None => s.serialize_str(""),
    }
}

/// What a pack provides, as listed in its index entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Contents {
    /// Its actions.
    pub actions: Vec<ContentItem>,
    /// Its sensors.
    pub sensors: Vec<ContentItem>,
    /// Its triggers.
    pub triggers: Vec<ContentItem>,
    /// Its rules.
    pub rules: Vec<ContentItem>,
    /// Its workflows.
    pub workflows: Vec<ContentItem>,
}

/// One action, sensor, trigger, rule or workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContentItem {
    /// Its name.
    pub name: String,
    /// What it does.
    pub description: String,
}

/// What a pack needs besides itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Dependencies {
    /// The Attune versions it runs on (a semver requirement).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attune_version: Option<String>,
    /// The Python versions it runs on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub python_version: Option<String>,
    /// The Node.js versions it runs on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodejs_version: Option<String>,
    /// The packs it needs (`ref@requirement`).
    pub packs: Vec<String>,
}

/// A document parsed now: the summaries of its kept entries (what its pre-parsed form is
/// made of) and its warnings; [`Parsed::into_index`] joins them to the document.
#[derive(Debug, Default)]
pub struct Parsed {
    pub summaries: Summaries,
    /// The document's `last_updated` (Unix seconds), when it is RFC 3339.
    pub last_updated: Option<u64>,
    pub warnings: Vec<String>,
}

impl Parsed {
    /// The index of the document parsed, reading whole entries from `document` (the same
    /// bytes). `name` is the index's name as the user knows it.
    pub fn into_index(self, document: Arc<dyn EntryBytes>, name: &str) -> Index {
        Index {
            last_updated: self.last_updated,
            summaries: self.summaries,
            document,
            name: name.to_owned(),
        }
    }
}

impl Index {
    /// Parses an index document. `Err` (a sentence) when the document is not an index at all;
    /// the warnings returned say which entries were skipped and which sources ignored. `name`
    /// is the index's name as the user knows it, for those warnings.
    pub fn parse(bytes: &[u8], name: &str) -> Result<(Index, Vec<String>), String> {
        let mut parsed = Index::parse_spanned(bytes, name)?;
        let warnings = std::mem::take(&mut parsed.warnings);
        let document = Arc::new(InMemory(bytes.to_vec()));
        Ok((parsed.into_index(document, name), warnings))
    }

    /// [`Index::parse`] without the document: the summaries of its entries and where each is
    /// in the document. Entries are parsed one at a time from their text, so the whole
    /// document never becomes one tree of values (several times its size in memory).
    pub fn parse_spanned(bytes: &[u8], name: &str) -> Result<Parsed, String> {
        let (raw_packs, last_updated) = top_level(bytes, name)?;
        let mut warnings = Vec::new();
        let mut summaries = summaries::Builder::default();
        for (pos, raw) in raw_packs.into_iter().enumerate() {
            let value: Value = serde_json::from_str(raw.get()).map_err(|e| not_json(name, e))?;
            let span = Span {
                start: (raw.get().as_ptr() as usize - bytes.as_ptr() as usize) as u64,
                len: raw.get().len() as u64,
            };
            let e = match read_entry(value, pos, name, &mut warnings) {
                Ok(entry) => entry,
                Err(why) => {
                    warnings.push(format!("{why}; entry skipped"));
                    continue;
                }
            };
            let kept = summaries.add(summaries::Fields {
                pack_ref: &e.pack_ref,
                version: &e.version,
                label: &e.label,
                description: &e.description,
                keywords: &e.keywords,
                pos,
                span,
            });
            if !kept {
                warnings.push(format!(
                    "index `{name}`, pack entry `{}@{}` (#{pos}): this version appears more than once; the later entry is skipped",
                    e.pack_ref, e.version
                ));
            }
        }
        Ok(Parsed {
            summaries: summaries.finish(),
            last_updated,
            warnings,
        })
    }

    /// An index of entries read from `document` when asked for, summarized by `summaries`
    /// (made when the document was parsed).
    pub fn lazy(
        summaries: Summaries,
        last_updated: Option<u64>,
        document: Arc<dyn EntryBytes>,
        name: &str,
    ) -> Index {
        Index {
            last_updated,
            summaries,
            document,
            name: name.to_owned(),
        }
    }

    /// Every entry's summary, grouped by ref.
    pub fn summaries(&self) -> impl Iterator<Item = Summary<'_>> {
        self.summaries.all()
    }

    /// The whole entry `summary` (one of this index's) summarizes, parsed from its text as
    /// the document's parse did (its lesser warnings were given then); `Err` when that cannot
    /// be read or no longer holds that entry.
    pub fn entry(&self, summary: &Summary) -> Result<PackEntry, String> {
        let what = format!(
            "index `{}`, pack entry `{}@{}`",
            self.name, summary.pack_ref, summary.version
        );
        let bytes = self
            .document
            .read(summary.span)
            .map_err(|e| format!("{what}: cannot read it from the cached index: {e}"))?;
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| format!("{what}: the cached index no longer holds it: {e}"))?;
        let entry = read_entry(value, summary.pos, &self.name, &mut Vec::new())?;
        match entry.pack_ref.as_str() == summary.pack_ref && entry.version == summary.version {
            true => Ok(entry),
            false => Err(format!("{what}: the cached index no longer holds it")),
        }
    }

    /// Every version of a pack in this index, in index order.
    pub fn versions_of<'a>(&'a self, pack_ref: &str) -> impl Iterator<Item = Summary<'a>> {
        self.summaries.of(pack_ref)
    }
}

fn not_json(name: &str, e: serde_json::Error) -> String {
    format!("index `{name}` is not valid JSON: {e}")
}

/// The document's `packs` list, each entry as its text, and its `last_updated`.
fn top_level<'a>(bytes: &'a [u8], name: &str) -> Result<(Vec<&'a RawValue>, Option<u64>), String> {
    let mut top: HashMap<String, &RawValue> = match serde_json::from_slice(bytes) {
        Ok(top) => top,
        // Either not JSON (said with the syntax error) or JSON that is not an object.
        Err(_) => {
            return Err(
                match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                    Ok(_) => format!("index `{name}` is not a JSON object"),
                    Err(e) => not_json(name, e),
                },
            )
        }
    };
    let raw_packs = top
        .remove("packs")
        .and_then(|raw| serde_json::from_str::<Vec<&RawValue>>(raw.get()).ok())
        .ok_or_else(|| {
            format!("index `{name}` has no `packs` list; is it an Attune registry index?")
        })?;
    let last_updated = top
        .get("last_updated")
        .and_then(|raw| serde_json::from_str::<String>(raw.get()).ok())
        .and_then(|t| {
            time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339).ok()
        })
        .and_then(|t| u64::try_from(t.unix_timestamp()).ok());
    Ok((raw_packs, last_updated))
}

/// `#POS`, with the entry's ref and version when it has readable ones: `` `slack@2.1.0` (#3)``.
pub(crate) fn entry_label(pack_ref: Option<&Value>, version: Option<&Value>, pos: usize) -> String {
    let text = |v: Option<&Value>| match v {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    match (text(pack_ref), text(version)) {
        (Some(r), Some(v)) => format!("`{r}@{v}` (#{pos})"),
        (Some(r), None) => format!("`{r}` (#{pos})"),
        _ => format!("#{pos}"),
    }
}

/// Why an entry was skipped: the field and what is wrong with it.
#[derive(Debug)]
struct FieldError {
    field: String,
    why: String,
}

fn field_err(field: impl Into<String>, why: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        why: why.into(),
    }
}

/// Typed reads of an object's fields, moving the values out (an index can hold tens of
/// thousands of entries; copying every string would double the load time). `null` counts as
/// absent, a wrong type is an error.
struct Fields {
    obj: Map<String, Value>,
    prefix: String,
}

impl Fields {
    fn new(obj: Map<String, Value>, prefix: impl Into<String>) -> Self {
        Fields {
            obj,
            prefix: prefix.into(),
        }
    }

    fn name(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn text(&mut self, key: &str) -> Result<Option<String>, FieldError> {
        match self.obj.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => into_text(v)
                .map(Some)
                .ok_or_else(|| field_err(self.name(key), "must be a string")),
        }
    }

    fn required(&mut self, key: &str) -> Result<String, FieldError> {
        self.text(key)?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| field_err(self.name(key), "missing (required)"))
    }

    fn list(&mut self, key: &str) -> Result<Vec<Value>, FieldError> {
        match self.obj.remove(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err(field_err(self.name(key), "must be a list")),
        }
    }

    fn text_list(&mut self, key: &str) -> Result<Vec<String>, FieldError> {
        self.list(key)?
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                into_text(v)
                    .ok_or_else(|| field_err(format!("{}[{i}]", self.name(key)), "not a string"))
            })
            .collect()
    }

    /// A nested object; its field names are reported as `key.field`.
    fn object(&mut self, key: &str) -> Result<Option<Fields>, FieldError> {
        match self.obj.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(obj)) => Ok(Some(Fields::new(obj, format!("{}.", self.name(key))))),
            Some(_) => Err(field_err(self.name(key), "must be an object")),
        }
    }

    /// The objects of a list, each as [`Fields`] named `key[i].field`.
    fn objects(&mut self, key: &str) -> Result<Vec<Fields>, FieldError> {
        self.list(key)?
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                let field = format!("{}[{i}]", self.name(key));
                match v {
                    Value::Object(obj) => Ok(Fields::new(obj, format!("{field}."))),
                    _ => Err(field_err(field, "must be an object")),
                }
            })
            .collect()
    }
}

fn into_text(v: Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// One entry (the `pos`th of index `index`), or why attune-pack cannot read it: a sentence
/// naming the index, the entry and the field. The entry's lesser problems are added to
/// `warnings`, prefixed the same way.
pub(crate) fn read_entry(
    raw: Value,
    pos: usize,
    index: &str,
    warnings: &mut Vec<String>,
) -> Result<PackEntry, String> {
    let Value::Object(mut obj) = raw else {
        return Err(format!("index `{index}`, pack entry #{pos}: not an object"));
    };
    let raw_ref = obj.remove("ref");
    let raw_version = obj.remove("version");
    let label = entry_label(raw_ref.as_ref(), raw_version.as_ref(), pos);
    let prefix = format!("index `{index}`, pack entry {label}");
    let meta = obj.remove("meta").filter(|m| !m.is_null());
    let mut f = Fields::new(obj, "");
    if let Some(v) = raw_ref {
        f.obj.insert("ref".into(), v);
    }
    if let Some(v) = raw_version {
        f.obj.insert("version".into(), v);
    }
    let mut own = Vec::new();
    let entry = fields_of(f, meta, &mut own);
    warnings.extend(own.into_iter().map(|w| format!("{prefix}: {w}")));
    entry.map_err(|e| format!("{prefix}: field `{}`: {}", e.field, e.why))
}

fn fields_of(
    mut f: Fields,
    meta: Option<Value>,
    warnings: &mut Vec<String>,
) -> Result<PackEntry, FieldError> {
    let raw_ref = f.required("ref")?;
    let pack_ref = PackRef::new(&raw_ref)
        .ok_or_else(|| field_err("ref", format!("`{raw_ref}` is not valid: {REF_RULE}")))?;
    let raw_version = f.required("version")?;
    let (version, _) =
        parse_lenient_version(&raw_version).map_err(|why| field_err("version", why))?;

    let install_sources = install_sources(&mut f, warnings)?;
    let contents = f
        .object("contents")?
        .map(contents)
        .transpose()?
        .unwrap_or_default();
    let dependencies = f.object("dependencies")?.map(dependencies).transpose()?;

    Ok(PackEntry {
        label: f.text("label")?.unwrap_or_else(|| pack_ref.to_string()),
        description: f.text("description")?.unwrap_or_default(),
        author: f.text("author")?.unwrap_or_default(),
        license: f.text("license")?.unwrap_or_default(),
        email: f.text("email")?,
        homepage: f.text("homepage")?,
        repository: f.text("repository")?,
        keywords: f.text_list("keywords")?,
        runtime_deps: f.text_list("runtime_deps")?,
        install_sources,
        contents,
        dependencies,
        meta,
        pack_ref,
        version,
    })
}

fn install_sources(
    f: &mut Fields,
    warnings: &mut Vec<String>,
) -> Result<Vec<InstallSource>, FieldError> {
    let mut install_sources = Vec::new();
    for mut s in f.objects("install_sources")? {
        let url = s.required("url")?;
        let checksum = s
            .text("checksum")?
            .filter(|c| !c.is_empty())
            .map(|c| c.parse::<Checksum>())
            .transpose()
            .map_err(|e| field_err(s.name("checksum"), e.to_string()))?;
        let subdir = subdir(&mut s)?;
        match s.required("type")?.as_str() {
            "git" => install_sources.push(InstallSource::Git {
                url,
                git_ref: s.text("ref")?.filter(|r| !r.is_empty()),
                checksum,
                subdir,
            }),
            "archive" => install_sources.push(InstallSource::Archive {
                url,
                checksum,
                subdir,
            }),
            "oci" => install_sources.push(InstallSource::Oci { url, checksum }),
            // A source type a newer registry added must not cost the whole entry.
            other => warnings.push(format!(
                "field `{}`: unknown source type `{other}` ignored",
                s.name("type")
            )),
        }
    }
    if install_sources.is_empty() {
        return Err(field_err(
            "install_sources",
            "no git, archive or oci source to install from",
        ));
    }
    Ok(install_sources)
}

/// A source's `subdir`: a relative path inside the repository or archive, by the rule
/// `--subdir` follows (anything that could name something outside the source makes the
/// entry malformed).
fn subdir(s: &mut Fields) -> Result<Option<String>, FieldError> {
    let Some(dir) = s.text("subdir")?.filter(|d| !d.is_empty()) else {
        return Ok(None);
    };
    match Subdir::parse(&dir) {
        Ok(dir) => Ok(Some(dir.to_string())),
        Err(why) => Err(field_err(s.name("subdir"), why)),
    }
}

/// Attune's own CLI writes `contents` as counts (`{"actions": 3}`); what the items are is then
/// unknown, so a count reads as an empty list rather than costing the entry.
fn contents(mut c: Fields) -> Result<Contents, FieldError> {
    let mut items = |key: &str| -> Result<Vec<ContentItem>, FieldError> {
        if c.obj.get(key).is_some_and(Value::is_u64) {
            c.obj.remove(key);
            return Ok(Vec::new());
        }
        c.objects(key)?
            .into_iter()
            .map(|mut item| {
                Ok(ContentItem {
                    name: item.required("name")?,
                    description: item.text("description")?.unwrap_or_default(),
                })
            })
            .collect()
    };
    Ok(Contents {
        actions: items("actions")?,
        sensors: items("sensors")?,
        triggers: items("triggers")?,
        rules: items("rules")?,
        workflows: items("workflows")?,
    })
}

fn dependencies(mut d: Fields) -> Result<Dependencies, FieldError> {
    Ok(Dependencies {
        attune_version: d.text("attune_version")?,
        python_version: d.text("python_version")?,
        nodejs_version: d.text("nodejs_version")?,
        packs: d.text_list("packs")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SHA: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

    fn parse(doc: &str) -> (Result<Index, String>, Vec<String>) {
        let mut warnings = Vec::new();
        let r = Index::parse(doc.as_bytes(), "main").map(|(i, w)| {
            warnings = w;
            i
        });
        (r, warnings)
    }

    /// The whole entry of the one version of `pack_ref`.
    fn only(index: &Index, pack_ref: &str) -> PackEntry {
        let versions: Vec<_> = index.versions_of(pack_ref).collect();
        assert_eq!(versions.len(), 1, "{pack_ref}");
        index.entry(&versions[0]).unwrap()
    }

    #[test]
    fn reads_attune_index_and_skips_bad_entries_with_field_warnings() {
        let doc = format!(
            r#"{{"registry_name":"Main","version":"1.0","packs":[
              {{"ref":"slack","label":"Slack","version":"2.1.0","keywords":["chat"],
                "install_sources":[{{"type":"git","url":"https://g/slack.git","ref":"v2.1.0","checksum":"{SHA}"}},
                                   {{"type":"svn","url":"x"}}],
                "contents":{{"actions":[{{"name":"post","description":"Post"}}]}},
                "dependencies":{{"attune_version":">=0.2","packs":["core@^1"]}},"meta":{{"x":1}}}},
              {{"ref":"slack","version":"2.1.0","install_sources":[{{"type":"archive","url":"a.tgz"}}]}},
              {{"ref":"bad","version":"banana","install_sources":[]}},
              {{"ref":"nosrc","version":"1.0.0"}},
              {{"ref":"badsum","version":"1.0.0","install_sources":[{{"type":"archive","url":"u","checksum":"sha256:zz"}}]}},
              42,
              {{"ref":"short","version":"1.0","install_sources":[{{"type":"archive","url":"u"}}]}}
            ]}}"#
        );
        let (index, w) = parse(&doc);
        let index = index.unwrap();
        let refs: Vec<_> = index.summaries().map(|p| p.pack_ref).collect();
        assert_eq!(refs, ["short", "slack"]);
        let slack = &only(&index, "slack");
        assert_eq!(slack.install_sources.len(), 1);
        assert_eq!(slack.contents.actions[0].name, "post");
        assert_eq!(slack.dependencies.as_ref().unwrap().packs, ["core@^1"]);
        assert_eq!(only(&index, "short").version, Version::new(1, 0, 0));
        let all = w.join("\n");
        for needle in [
            "`install_sources[1].type`: unknown source type `svn`",
            "appears more than once",
            "`bad@banana` (#2): field `version`",
            "`nosrc@1.0.0` (#3): field `install_sources`",
            "field `install_sources[0].checksum`",
            "#5: not an object",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
        }
        assert!(w.iter().all(|w| w.starts_with("index `main`")));
    }

    #[test]
    fn counted_contents_and_source_subdirs_are_read() {
        let doc = format!(
            r#"{{"packs":[
              {{"ref":"a","version":"1.0.0","contents":{{"actions":3,"rules":0}},
                "install_sources":[{{"type":"git","url":"u","checksum":"{SHA}","subdir":"packs/a"}}]}},
              {{"ref":"b","version":"1.0.0","install_sources":[{{"type":"archive","url":"u","subdir":"../x"}}]}},
              {{"ref":"c","version":"1.0.0","install_sources":[{{"type":"archive","url":"u","subdir":"/etc"}}]}}
            ]}}"#
        );
        let (index, w) = parse(&doc);
        let index = index.unwrap();
        assert_eq!(index.summaries().count(), 1, "{w:?}");
        let a = &only(&index, "a");
        assert!(a.contents.actions.is_empty());
        assert_eq!(a.install_sources[0].subdir(), Some("packs/a"));
        let all = w.join("\n");
        assert!(
            all.contains("`b@1.0.0` (#1): field `install_sources[0].subdir`"),
            "{all}"
        );
        assert!(
            all.contains("`c@1.0.0` (#2): field `install_sources[0].subdir`"),
            "{all}"
        );
        let v = serde_json::to_value(a).unwrap();
        assert_eq!(v["install_sources"][0]["subdir"], "packs/a");
        assert_eq!((&v["author"], &v["license"]), (&json!(""), &json!("")));
    }

    #[test]
    fn documents_that_are_not_indices_are_refused() {
        for doc in ["<html>", "[]", r#"{"packages": []}"#] {
            let e = parse(doc).0.unwrap_err();
            assert!(e.contains("index `main`"), "{e}");
        }
    }

    #[test]
    fn entries_serialize_in_index_form() {
        let (index, _) = parse(&format!(
            r#"{{"packs":[{{"ref":"a","version":"1.0.0","install_sources":[{{"type":"archive","url":"u","checksum":"{SHA}"}}]}}]}}"#
        ));
        let v = serde_json::to_value(only(&index.unwrap(), "a")).unwrap();
        assert_eq!(v["ref"], "a");
        assert_eq!(v["version"], "1.0.0");
        assert_eq!(v["install_sources"][0]["type"], "archive");
        assert_eq!(v["install_sources"][0]["checksum"], SHA);
        assert!(v["contents"]["actions"].as_array().unwrap().is_empty());
        assert!(v["install_sources"][0].get("subdir").is_none());
    }
}
