package release

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/steward-rehab/steward/internal/consent"
)

// MetadataFile is the bundle path of the Croissant description.
const MetadataFile = "metadata.json"

// Versions of the Croissant specification and of its Responsible AI
// vocabulary that metadata.json conforms to.
const (
	CroissantConformsTo    = "http://mlcommons.org/croissant/1.1"
	CroissantRAIConformsTo = "http://mlcommons.org/croissant/RAI/1.0"
)

// SmallGroupSamples is the sample count below which a subgroup is listed
// as too small for conclusions about it.
const SmallGroupSamples = 5

// croissantContext returns the inline JSON-LD context of metadata.json: the
// context the Croissant 1.1 specification recommends (its appendix 1),
// plus the RAI prefix and a base IRI, so that every @id is absolute and no
// processor fetches anything.
func croissantContext(base string) object {
	return object{
		"@language":          "en",
		"@vocab":             "http://schema.org/",
		"@base":              base,
		"sc":                 "http://schema.org/",
		"cr":                 "http://mlcommons.org/croissant/",
		"rai":                "http://mlcommons.org/croissant/RAI/",
		"dct":                "http://purl.org/dc/terms/",
		"annotation":         "cr:annotation",
		"arrayShape":         "cr:arrayShape",
		"citeAs":             "cr:citeAs",
		"column":             "cr:column",
		"conformsTo":         "dct:conformsTo",
		"containedIn":        "cr:containedIn",
		"data":               object{"@id": "cr:data", "@type": "@json"},
		"dataType":           object{"@id": "cr:dataType", "@type": "@vocab"},
		"equivalentProperty": "cr:equivalentProperty",
		"examples":           object{"@id": "cr:examples", "@type": "@json"},
		"excludes":           "cr:excludes",
		"extract":            "cr:extract",
		"field":              "cr:field",
		"fileProperty":       "cr:fileProperty",
		"fileObject":         "cr:fileObject",
		"fileSet":            "cr:fileSet",
		"format":             "cr:format",
		"includes":           "cr:includes",
		"isArray":            "cr:isArray",
		"isLiveDataset":      "cr:isLiveDataset",
		"jsonPath":           "cr:jsonPath",
		"key":                "cr:key",
		"md5":                "cr:md5",
		"parentField":        "cr:parentField",
		"recordSet":          "cr:recordSet",
		"references":         "cr:references",
		"regex":              "cr:regex",
		"readLines":          "cr:readLines",
		"sdVersion":          "cr:sdVersion",
		"separator":          "cr:separator",
		"source":             "cr:source",
		"subField":           "cr:subField",
		"transform":          "cr:transform",
		"unArchive":          "cr:unArchive",
		"value":              "cr:value",
	}
}

// mediaTypes maps sample formats to the media type of their data file.
var mediaTypes = map[string]string{
	"wav":  "audio/wav",
	"mp3":  "audio/mpeg",
	"flac": "audio/flac",
	"mp4":  "video/mp4",
	"mov":  "video/quicktime",
	"webm": "video/webm",
	"csv":  "text/csv",
	"tsv":  "text/tab-separated-values",
	"txt":  "text/plain",
	"json": "application/json",
	"wfdb": "application/x-tar",
}

func mediaType(format string) string {
	if t, ok := mediaTypes[format]; ok {
		return t
	}
	return "application/octet-stream"
}

// hexDigest returns the hex part of a sha256:<hex> digest, the form the
// schema.org sha256 property takes.
func hexDigest(digest string) string { return strings.TrimPrefix(digest, "sha256:") }

// MetadataWriter writes metadata.json, a Croissant 1.1 dataset with RAI
// properties, as a stream: the opening and one FileObject per sample's data
// file as samples arrive, then everything that needs the whole release.
// JSON-LD gives the order of properties no meaning, so the distribution can
// come before the statistics it is summarised by.
type MetadataWriter struct {
	w     *bufio.Writer
	h     hash.Hash
	head  Header
	files int
	err   error
}

// NewMetadataWriter writes the opening of metadata.json to w.
func NewMetadataWriter(w io.Writer, h Header) *MetadataWriter {
	mw := &MetadataWriter{h: sha256.New(), head: h}
	mw.w = bufio.NewWriterSize(io.MultiWriter(w, mw.h), 1<<16)
	releaseIRI := ReleaseIRI(h.Origin, h.Release)
	mw.write("{")
	mw.field("@context", croissantContext(releaseIRI+"/"), true)
	mw.field("@type", "sc:Dataset", true)
	mw.field("@id", releaseIRI, true)
	mw.write("\n  \"distribution\": [")
	return mw
}

func (mw *MetadataWriter) write(s string) {
	if mw.err == nil {
		_, mw.err = mw.w.WriteString(s)
	}
}

func (mw *MetadataWriter) field(name string, v any, comma bool) {
	raw, err := marshalJSON(v, true, "  ")
	if err != nil && mw.err == nil {
		mw.err = err
	}
	mw.write(fmt.Sprintf("\n  %q: %s", name, raw))
	if comma {
		mw.write(",")
	}
}

func (mw *MetadataWriter) item(v any) {
	raw, err := marshalJSON(v, false, "")
	if err != nil && mw.err == nil {
		mw.err = err
	}
	if mw.files > 0 {
		mw.write(",")
	}
	mw.write("\n    ")
	mw.write(string(raw))
	mw.files++
}

// Add writes the FileObject of one sample's data file. Errors are kept and
// returned by Finish, so Add can observe Stats.
func (mw *MetadataWriter) Add(s Sample) {
	file := s.File
	if file == "" {
		file = DataFile(s.ID, s.Format)
	}
	mw.item(object{
		"@type":          "cr:FileObject",
		"@id":            file,
		"name":           path.Base(file),
		"contentUrl":     file,
		"contentSize":    fmt.Sprintf("%d B", s.Size),
		"encodingFormat": mediaType(s.Format),
		"sha256":         hexDigest(s.Digest),
	})
}

// documentDescriptions describe the other bundle files in metadata.json.
var documentDescriptions = map[string]struct{ description, mediaType string }{
	ManifestFile:      {"The release manifest: header, one sample per line with its evidence, then selection, attribution and document digests. The release event in the registry's log commits to its sha256, which is why it is not repeated here.", "application/json"},
	LicenceFile:       {"The licence terms, for people.", "application/json"},
	LicenceJSONLDFile: {"The licence terms as ODRL 2.2 policies.", "application/ld+json"},
	DatasheetFile:     {"The datasheet, answering the questions of Datasheets for Datasets.", "text/markdown"},
	DatasheetHTMLFile: {"The datasheet as a self-contained HTML page.", "text/html"},
}

// Finish writes the rest of metadata.json and returns its sha256 digest.
// docs maps the other documents of the bundle to their digests.
func (mw *MetadataWriter) Finish(st *Stats, t Trailer, docs map[string]string) (string, error) {
	h := mw.head
	mw.item(object{
		"@type": "cr:FileObject", "@id": ManifestFile, "name": ManifestFile, "contentUrl": ManifestFile,
		"encodingFormat": "application/json", "description": documentDescriptions[ManifestFile].description,
	})
	for _, name := range sortedNames(docs) {
		d, ok := documentDescriptions[name]
		if !ok {
			return "", fmt.Errorf("write %s: no description for document %s", MetadataFile, name)
		}
		mw.item(object{
			"@type": "cr:FileObject", "@id": name, "name": name, "contentUrl": name,
			"encodingFormat": d.mediaType, "description": d.description, "sha256": hexDigest(docs[name]),
		})
	}
	mw.write("\n  ],")

	purpose, err := consent.LookupPurpose(h.Purpose)
	if err != nil {
		return "", fmt.Errorf("write %s: %w", MetadataFile, err)
	}
	mw.field("name", "steward-release-"+h.Release, true)
	mw.field("description", fmt.Sprintf(
		"Release %s of the Steward registry %s: %d samples of %s data from %d participants, selected because their consent permits %s use. "+
			"Data files are present only in bundles built with data.",
		h.Release, h.Origin, st.Samples, strings.Join(h.Modalities, ", "), st.Participants(), h.Purpose), true)
	mw.field("conformsTo", []string{CroissantConformsTo, CroissantRAIConformsTo}, true)
	mw.field("url", ReleaseIRI(h.Origin, h.Release), true)
	mw.field("version", t.Version, true)
	mw.field("datePublished", h.BuiltAt.UTC().Format(time.RFC3339), true)
	mw.field("creator", object{"@type": "sc:Organization", "name": h.Origin, "url": RegistryIRI(h.Origin)}, true)
	mw.field("citeAs", fmt.Sprintf("Steward release %s, version %s, registry %s, built %s.",
		h.Release, t.Version, h.Origin, h.BuiltAt.UTC().Format("2006-01-02")), true)
	mw.field("keywords", append([]string{"rehabilitation", purpose.Code}, h.Modalities...), true)
	mw.field("license", []object{{"@id": LicenceJSONLDFile}, {"@id": LicenceFile}}, true)
	mw.field("usageInfo", usageInfo(purpose), true)
	if len(t.Attribution) > 0 {
		mw.field("isBasedOn", basedOn(t.Attribution), true)
	}
	mw.field("recordSet", recordSets(st), true)
	for _, p := range raiProperties(h, st, t, purpose) {
		mw.field(p.name, p.value, true)
	}
	mw.field("sdVersion", "1.0", false)
	mw.write("\n}\n")
	if mw.err == nil {
		mw.err = mw.w.Flush()
	}
	if mw.err != nil {
		return "", fmt.Errorf("write %s: %w", MetadataFile, mw.err)
	}
	return "sha256:" + hex.EncodeToString(mw.h.Sum(nil)), nil
}

// marshalJSON encodes v without escaping <, > and &, which only matters
// inside HTML. Unless indent is false, each line after the first starts
// with prefix and nesting adds two spaces.
func marshalJSON(v any, indent bool, prefix string) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if indent {
		enc.SetIndent(prefix, "  ")
	}
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func sortedNames(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// usageInfo gives the purpose and its DUO codes as defined terms, and
// points to the ODRL policies.
func usageInfo(p consent.Purpose) []object {
	out := []object{{
		"@type": "sc:DefinedTerm", "name": p.Label, "termCode": p.Code, "url": PurposeIRI(p.Code),
		"description": p.Description,
	}}
	for _, id := range p.DUO {
		term := object{"@type": "sc:DefinedTerm", "termCode": id, "url": DUOIRI(id), "inDefinedTermSet": "http://purl.obolibrary.org/obo/duo.owl"}
		if t, err := consent.LookupDUO(id); err == nil {
			term["name"] = t.Label
		}
		out = append(out, term)
	}
	return append(out, object{"@id": LicenceJSONLDFile})
}

func basedOn(attribution []Attribution) []object {
	out := make([]object, 0, len(attribution))
	for _, a := range attribution {
		source := object{"@type": "sc:Dataset", "name": a.Dataset}
		if a.Citation != "" {
			source["citation"] = a.Citation
		}
		if a.Licence != "" {
			source["license"] = a.Licence
		}
		out = append(out, source)
	}
	return out
}

// recordSets returns one RecordSet per modality. Every field reads the
// samples of that modality from manifest.json.
func recordSets(st *Stats) []object {
	var out []object
	for _, m := range st.Modalities() {
		samples := st.Counts[ByModality][m]
		selector := fmt.Sprintf("$.samples[?(@.modality=='%s')]", m)
		field := func(name, dataType, jsonPath, description string) object {
			return object{
				"@type": "cr:Field", "@id": m + "/" + name, "name": name, "description": description,
				"dataType": dataType,
				"source":   object{"fileObject": object{"@id": ManifestFile}, "extract": object{"jsonPath": selector + jsonPath}},
			}
		}
		demographics := object{
			"@type": "cr:Field", "@id": m + "/demographics", "name": "demographics",
			"description": "Coarse audit attributes of the participant. A value that was not recorded is \"unknown\".",
			"subField": []object{
				field("demographics/age_band", "sc:Text", ".demographics.ageBand", "Age in a ten-year band, such as 60-69."),
				field("demographics/sex", "sc:Text", ".demographics.sex", "Sex as recorded by the data steward."),
				field("demographics/condition", "sc:Text", ".demographics.condition", "Clinical condition."),
				field("demographics/assistive_device", "sc:Text", ".demographics.assistiveDevice", "Assistive device used, if any."),
			},
		}
		out = append(out, object{
			"@type": "cr:RecordSet", "@id": m, "name": m,
			"description": fmt.Sprintf("One record per %s sample of the release.", m),
			"key":         object{"@id": m + "/sample_id"},
			"field": []object{
				field("sample_id", "sc:Text", ".id", "Sample id in the registry."),
				field("participant", "sc:Text", ".participant", "Pseudonym of the participant. No direct identifier is released."),
				field("digest", "sc:Text", ".digest", "sha256 of the recording, as sha256:<hex>."),
				field("file", "sc:Text", ".file", "Path of the recording in a bundle built with data."),
				field("format", "sc:Text", ".format", "File format of the recording."),
				field("sampling_rate", "sc:Float", ".samplingRate", "Sampling rate in Hz."),
				demographics,
			},
			"annotation": []object{
				{"@type": "cr:Field", "@id": m + "/count", "name": "count", "description": "Number of records.", "dataType": "sc:Integer", "value": samples},
				{"@type": "cr:Field", "@id": m + "/participants", "name": "participants", "description": "Number of distinct participants.", "dataType": "sc:Integer", "value": st.ParticipantsIn(m)},
			},
		})
	}
	return out
}
