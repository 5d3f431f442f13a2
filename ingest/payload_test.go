package ingest_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/tetrahq/tetra/ingest"
	"github.com/tetrahq/tetra/telemetry"
)

// TestDecodePayload runs testdata/data: decode [file=F] [max=N] decodes the
// file (under ../testdata) or the input and prints what it carries; with
// max, only the first N of each kind.
func TestDecodePayload(t *testing.T) {
	datadriven.Walk(t, "testdata/data", func(t *testing.T, path string) {
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			in := []byte(d.Input)
			max := 1 << 30
			for _, a := range d.CmdArgs {
				switch a.Key {
				case "file":
					b, err := os.ReadFile(filepath.Join("../testdata", a.Vals[0]))
					if err != nil {
						t.Fatal(err)
					}
					in = b
				case "max":
					fmt.Sscan(a.Vals[0], &max)
				}
			}
			p, err := ingest.Decoder{DefaultSource: "test"}.DecodePayloadBytes(in)
			if err != nil {
				return formatErr(err)
			}
			return formatPayload(p, max)
		})
	})
}

func formatErr(err error) string {
	var b strings.Builder
	if l, ok := err.(*ingest.ErrorList); ok {
		for _, e := range l.Errs {
			b.WriteString("error: " + e.Error() + "\n")
		}
		return b.String()
	}
	return "error: " + err.Error() + "\n"
}

func formatPayload(p *ingest.Payload, max int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d topologies, %d series (%d samples), %d events, %d spans\n",
		len(p.Topologies), len(p.Metrics), p.Samples(), len(p.Events), len(p.Spans))
	for i, s := range p.Metrics {
		if i == max {
			break
		}
		fmt.Fprintf(&b, "series %s{%s} ids=%v:", s.Series.Name, s.Series.Tags, telemetry.Identifiers(s.Series.Tags, s.Series.Identifiers))
		for j, x := range s.Samples {
			if j == 3 {
				fmt.Fprintf(&b, " …")
				break
			}
			fmt.Fprintf(&b, " %d=%g", x.T, x.V)
		}
		b.WriteByte('\n')
	}
	for i, e := range p.Events {
		if i == max {
			break
		}
		fmt.Fprintf(&b, "event %s at %d %q category=%s type=%q source=%q msg=%q tags={%s} ids=%v data=%s links=%v\n",
			e.ID, e.Time, e.Name, e.Category, e.Type, e.Source, e.Message, e.Tags, e.Identifiers, e.Data, e.Links)
	}
	for i, s := range p.Spans {
		if i == max {
			break
		}
		fmt.Fprintf(&b, "span %s/%s parent=%q %s %q kind=%q status=%s start=%d dur=%d attrs={%s} resource={%s} ids=%v\n",
			s.TraceID, s.SpanID, s.ParentID, s.Service, s.Name, s.Kind, s.Status, s.Start, s.Duration, s.Attributes, s.Resource, s.Identifiers)
	}
	return b.String()
}
