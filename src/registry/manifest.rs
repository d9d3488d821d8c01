//! Manifests: media types, the Accept header, parsing, building, and size/created summaries.
//! Owns what the registry's JSON means; must never trust a body whose sha256 differs from its digest.

use super::digest::Digest;
use serde::{Deserialize, Serialize};

/// Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list (multi-arch).
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker image config blob.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// OCI image config blob.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// Docker gzip layer.
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// OCI gzip layer.
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// All four modern manifest types: with fewer, distribution 2.8 rewrites schema 2 to schema 1 (another
/// digest), answers a list with its amd64 child, or hides OCI manifests (404).
pub const ACCEPT_ALL: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// Image format used when building manifests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Docker schema 2 / manifest list.
    Docker,
    /// OCI manifest / index.
    Oci,
}

impl Format {
    /// Media type of a single-image manifest in this format.
    pub fn manifest_type(self) -> &'static str {
        match self {
            Format::Docker => DOCKER_MANIFEST,
            Format::Oci => OCI_MANIFEST,
        }
    }
    /// Media type of an index / list in this format.
    pub fn index_type(self) -> &'static str {
        match self {
            Format::Docker => DOCKER_LIST,
            Format::Oci => OCI_INDEX,
        }
    }
    fn config_type(self) -> &'static str {
        match self {
            Format::Docker => DOCKER_CONFIG,
            Format::Oci => OCI_CONFIG,
        }
    }
    fn layer_type(self) -> &'static str {
        match self {
            Format::Docker => DOCKER_LAYER,
            Format::Oci => OCI_LAYER,
        }
    }
}

/// A content descriptor (`mediaType`, `digest`, `size`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the referenced content.
    pub media_type: String,
    /// Its digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// Platform, for index entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<serde_json::Value>,
}

/// The parts of a manifest or index this crate reads.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
}

/// A parsed manifest.
#[derive(Clone, Debug)]
pub enum Manifest {
    /// A single image: config + layers.
    Image {
        media_type: String,
        config: Descriptor,
        layers: Vec<Descriptor>,
    },
    /// An index / manifest list.
    Index {
        media_type: String,
        manifests: Vec<Descriptor>,
    },
}

impl Manifest {
    /// Parses `body`, using the `Content-Type` when the body carries no `mediaType`.
    pub fn parse(body: &[u8], content_type: Option<&str>) -> Result<Manifest, String> {
        let raw: RawManifest =
            serde_json::from_slice(body).map_err(|e| format!("not a manifest: {e}"))?;
        let media_type = raw
            .media_type
            .or_else(|| content_type.map(|c| c.split(';').next().unwrap_or(c).trim().to_owned()))
            .unwrap_or_default();
        match (raw.manifests, raw.config) {
            (Some(manifests), _) => Ok(Manifest::Index {
                media_type,
                manifests,
            }),
            (None, Some(config)) => Ok(Manifest::Image {
                media_type,
                config,
                layers: raw.layers.unwrap_or_default(),
            }),
            (None, None) => Err(format!(
                "manifest of type {media_type:?} has neither config nor manifests"
            )),
        }
    }

    /// The manifest's media type.
    pub fn media_type(&self) -> &str {
        match self {
            Manifest::Image { media_type, .. } | Manifest::Index { media_type, .. } => media_type,
        }
    }

    /// Bytes of config + layers (0 for an index: its children are summed by the client).
    pub fn own_blob_bytes(&self) -> u64 {
        match self {
            Manifest::Image { config, layers, .. } => {
                config.size + layers.iter().map(|l| l.size).sum::<u64>()
            }
            Manifest::Index { .. } => 0,
        }
    }
}

/// Serializes a single-image manifest for `format`; returns (media type, bytes).
pub fn build_image_manifest(
    format: Format,
    config: (Digest, u64),
    layers: &[(Digest, u64)],
) -> (&'static str, Vec<u8>) {
    let desc = |media: &str, (digest, size): &(Digest, u64)| serde_json::json!({ "mediaType": media, "digest": digest, "size": size });
    let body = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": format.manifest_type(),
        "config": desc(format.config_type(), &config),
        "layers": layers.iter().map(|l| desc(format.layer_type(), l)).collect::<Vec<_>>(),
    });
    (
        format.manifest_type(),
        serde_json::to_vec(&body).expect("json serializes"),
    )
}

/// Serializes an index / manifest list over `children` (each `(digest, size, platform arch)`).
pub fn build_index(format: Format, children: &[(Digest, u64, &str)]) -> (&'static str, Vec<u8>) {
    let manifests: Vec<_> = children
        .iter()
        .map(|(digest, size, arch)| {
            serde_json::json!({
                "mediaType": format.manifest_type(), "digest": digest, "size": size,
                "platform": { "architecture": arch, "os": "linux" }
            })
        })
        .collect();
    let body = serde_json::json!({ "schemaVersion": 2, "mediaType": format.index_type(), "manifests": manifests });
    (
        format.index_type(),
        serde_json::to_vec(&body).expect("json serializes"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_and_parse_round_trip() {
        let cfg = (Digest::of(b"{}"), 2);
        let layer = (Digest::of(b"layer"), 5);
        let (mt, body) = build_image_manifest(Format::Oci, cfg, &[layer]);
        let m = Manifest::parse(&body, None).unwrap();
        assert_eq!((m.media_type(), m.own_blob_bytes()), (OCI_MANIFEST, 7));
        let (it, ibody) = build_index(
            Format::Docker,
            &[(Digest::of(&body), body.len() as u64, "amd64")],
        );
        let idx = Manifest::parse(&ibody, None).unwrap();
        assert!(matches!(idx, Manifest::Index { ref manifests, .. } if manifests.len() == 1));
        assert_eq!((mt, it), (OCI_MANIFEST, DOCKER_LIST));
        let no_type = br#"{"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2}}"#;
        let m = Manifest::parse(
            no_type,
            Some("application/vnd.oci.image.manifest.v1+json; charset=utf-8"),
        )
        .unwrap();
        assert_eq!(m.media_type(), OCI_MANIFEST);
        assert!(Manifest::parse(b"{}", None).is_err());
    }
}
