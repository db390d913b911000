package core

// Descriptor points at content by digest, as in the OCI image spec: what the referrers API
// lists and what the build-index records for each manifest of a repository.
type Descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       Digest            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

// ManifestEntry is the build-index's record of one manifest pushed to one repository. Subject
// is the zero Digest unless the manifest names a subject (it is then a referrer of Subject).
type ManifestEntry struct {
	Descriptor
	Subject Digest `json:"subject,omitzero"`
}
