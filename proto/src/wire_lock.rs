//! The protobuf messages are also the daemon's on-disk encoding (store values, journal
//! records), so a field, once it has a number, keeps that number and its type. `wire.lock`
//! lists every field as `Message number type # name`; names may change, numbers and types not.

use prost::Message as _;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FileDescriptorSet};

fn fields(prefix: &str, m: &DescriptorProto, out: &mut Vec<(String, String)>) {
    let name = format!("{prefix}{}", m.name());
    for f in &m.field {
        let ty = match f.r#type() {
            Type::Message | Type::Enum => f.type_name().trim_start_matches('.').to_string(),
            t => t.as_str_name().trim_start_matches("TYPE_").to_lowercase(),
        };
        let repeated = if f.label() == Label::Repeated {
            "repeated "
        } else {
            ""
        };
        out.push((
            format!("{name} {} {repeated}{ty}", f.number()),
            f.name().to_string(),
        ));
    }
    for nested in &m.nested_type {
        fields(&format!("{name}."), nested, out);
    }
}

fn current() -> Vec<(String, String)> {
    let fds = FileDescriptorSet::decode(crate::FILE_DESCRIPTOR_SET).expect("embedded descriptors");
    let mut out = Vec::new();
    for file in &fds.file {
        for m in &file.message_type {
            fields("", m, &mut out);
        }
        for e in &file.enum_type {
            for v in &e.value {
                out.push((format!("{} {}", e.name(), v.number()), v.name().to_string()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn no_field_changes_its_number_or_type() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/wire.lock");
    let now = current();
    if std::env::var_os("UPDATE_WIRE_LOCK").is_some() {
        let text: String = now.iter().map(|(k, n)| format!("{k} # {n}\n")).collect();
        std::fs::write(path, text).expect("write wire.lock");
        return;
    }
    let locked = std::fs::read_to_string(path).expect("proto/wire.lock");
    let locked: Vec<&str> = locked
        .lines()
        .filter_map(|l| l.split(" # ").next())
        .filter(|k| !k.is_empty())
        .collect();
    let gone: Vec<&&str> = locked
        .iter()
        .filter(|k| !now.iter().any(|(n, _)| n == **k))
        .collect();
    assert!(
        gone.is_empty(),
        "fields changed number or type, or were removed (stored records would no longer \
         decode; keep the field, rename it legacy_*, add a new one): {gone:#?}"
    );
    let added: Vec<&String> = now
        .iter()
        .map(|(k, _)| k)
        .filter(|k| !locked.contains(&k.as_str()))
        .collect();
    assert!(
        added.is_empty(),
        "new fields: record them with `UPDATE_WIRE_LOCK=1 cargo test -p agentmux-proto wire`: {added:#?}"
    );
}
