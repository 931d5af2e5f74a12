package registry

import (
	"context"
	"fmt"
	"io"

	"github.com/steward-rehab/steward/internal/release"
)

// renderDocuments renders the release documents that are small enough to
// hold in memory, by bundle path. metadata.json streams separately.
func renderDocuments(h release.Header, st *release.Stats, t release.Trailer, terms release.Terms) (map[string][]byte, error) {
	licence, err := release.NewLicence(h, t).Encode()
	if err != nil {
		return nil, err
	}
	licenceLD, err := release.NewLicenceJSONLD(h, t, terms)
	if err != nil {
		return nil, err
	}
	datasheet := release.Datasheet(h, st, t, terms)
	datasheetHTML, err := release.DatasheetHTML(h.Release, datasheet)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{
		release.LicenceFile:       licence,
		release.LicenceJSONLDFile: licenceLD,
		release.DatasheetFile:     datasheet,
		release.DatasheetHTMLFile: datasheetHTML,
	}, nil
}

// exportedDocuments are the stored documents an export copies besides the
// manifest, licence.json and datasheet.md.
var exportedDocuments = []string{release.LicenceJSONLDFile, release.DatasheetHTMLFile, release.MetadataFile}

// exportDocuments returns openers for the stored documents of a release
// that exist. A release built before these documents existed has none of
// them, and its manifest lists no digest for them.
func (r *Registry) exportDocuments(ctx context.Context, id string) (map[string]func() (io.ReadCloser, error), error) {
	out := map[string]func() (io.ReadCloser, error){}
	for _, name := range exportedDocuments {
		key := releaseDocumentKey(id, name)
		stored, err := r.blobs.Exists(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("read %s of release %s: %w", name, id, err)
		}
		if !stored {
			continue
		}
		out[name] = func() (io.ReadCloser, error) { return r.blobs.Open(ctx, key) }
	}
	return out, nil
}
