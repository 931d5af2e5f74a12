package release

import (
	"bytes"
	"fmt"
	"html"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

// DatasheetHTMLFile is the bundle path of the datasheet as a web page.
const DatasheetHTMLFile = "datasheet.html"

// datasheetStyle is the page's only styling: readable type and ruled
// tables, with no fonts, scripts or other resources to fetch.
const datasheetStyle = `body{font-family:system-ui,sans-serif;line-height:1.5;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}
table{border-collapse:collapse;margin:0 0 1.5rem}
th,td{border:1px solid #bbb;padding:.25rem .6rem;text-align:left}
td[align=right],th[align=right]{text-align:right}
code{font-size:.95em;background:#f2f2f2;padding:0 .2em}
h1,h2,h3{line-height:1.2}`

// markdown renders CommonMark with GitHub tables. Raw HTML in the source is
// left out, as goldmark does by default.
var markdown = goldmark.New(goldmark.WithExtensions(extension.Table))

// DatasheetHTML renders datasheet.md as a self-contained HTML page: the
// same text and numbers, inline styles, and no scripts.
func DatasheetHTML(release string, datasheet []byte) ([]byte, error) {
	var body bytes.Buffer
	if err := markdown.Convert(datasheet, &body); err != nil {
		return nil, fmt.Errorf("render %s: %w", DatasheetHTMLFile, err)
	}
	var page bytes.Buffer
	fmt.Fprintf(&page, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"+
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"+
		"<title>Datasheet for release %s</title>\n<style>\n%s\n</style>\n</head>\n<body>\n",
		html.EscapeString(release), datasheetStyle)
	page.Write(body.Bytes())
	page.WriteString("</body>\n</html>\n")
	return page.Bytes(), nil
}
