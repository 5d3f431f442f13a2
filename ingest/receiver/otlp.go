package receiver

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/ingest"
)

// handleOTLP serves OTLP/HTTP's export of a signal in both its encodings,
// protobuf (what the SDKs' exporters send) and JSON: the spans, samples or
// events of the request go to their store, and the answer is OTLP's
// success, 200 with the export response in the request's encoding, once
// they are durable. What was accepted but odd is in the response's
// partial_success.error_message, with nothing rejected, as OTLP has
// servers report warnings.
func (rc *Receiver) handleOTLP(w http.ResponseWriter, r *http.Request, sig ingest.Signal) {
	start := time.Now()
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/json" && ct != "application/x-protobuf" {
		rc.fail(w, r, api.Errorf(api.ClassMediaType, "%s", fmt.Sprintf("Content-Type %q is not supported: OTLP/HTTP "+
			"is application/x-protobuf or application/json", r.Header.Get("Content-Type"))))
		return
	}
	if err := rc.hasStore(sig); err != nil {
		rc.fail(w, r, err)
		return
	}
	body, err := rc.readBody(w, r)
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	dc := ingest.Decoder{MaxBytes: rc.cfg.MaxDecodedBytes}
	var pl *ingest.Payload
	var warns *ingest.Warnings
	if ct == "application/x-protobuf" {
		pl, warns, err = dc.DecodeOTLP(sig, body)
	} else {
		pl, warns, err = dc.DecodeOTLPJSON(sig, body)
	}
	if err == nil {
		err = rc.exportOTLP(r.Context(), pl)
	}
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	rc.m.accepted(warns.Len(), time.Since(start))
	// The response in the request's encoding (an empty one is no bytes in
	// protobuf, {} in JSON).
	marshal := protojson.Marshal
	if ct == "application/x-protobuf" {
		marshal = proto.Marshal
	}
	b, err := marshal(otlpResponse(sig, warns))
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// hasStore says why a signal cannot be taken when its store is missing.
func (rc *Receiver) hasStore(sig ingest.Signal) error {
	missing := sig == ingest.SignalTraces && rc.cfg.Spans == nil ||
		sig == ingest.SignalMetrics && rc.cfg.Metrics == nil ||
		sig == ingest.SignalLogs && rc.cfg.Events == nil
	if missing {
		return api.Errorf(api.ClassUnavailable, "%s", fmt.Sprintf("this server has no store for OTLP %s", sig))
	}
	return nil
}

// exportOTLP stores a decoded OTLP export: its data, each append synced.
func (rc *Receiver) exportOTLP(ctx context.Context, pl *ingest.Payload) error {
	return rc.appendData(ctx, pl, &Accepted{})
}

// otlpResponse is the export response of a signal, carrying the
// warnings as a partial success that rejected nothing.
func otlpResponse(sig ingest.Signal, warns *ingest.Warnings) proto.Message {
	msg := warningText(warns)
	switch sig {
	case ingest.SignalTraces:
		resp := &coltracepb.ExportTraceServiceResponse{}
		if msg != "" {
			resp.PartialSuccess = &coltracepb.ExportTracePartialSuccess{ErrorMessage: msg}
		}
		return resp
	case ingest.SignalMetrics:
		resp := &colmetricspb.ExportMetricsServiceResponse{}
		if msg != "" {
			resp.PartialSuccess = &colmetricspb.ExportMetricsPartialSuccess{ErrorMessage: msg}
		}
		return resp
	}
	resp := &collogspb.ExportLogsServiceResponse{}
	if msg != "" {
		resp.PartialSuccess = &collogspb.ExportLogsPartialSuccess{ErrorMessage: msg}
	}
	return resp
}

// warningText joins warnings into one message, each with its path.
func warningText(warns *ingest.Warnings) string {
	if warns == nil || warns.Len() == 0 {
		return ""
	}
	parts := make([]string, 0, len(warns.List)+1)
	for _, e := range warns.List {
		parts = append(parts, strings.TrimPrefix(e.Error(), "ingest: "))
	}
	if warns.Dropped > 0 {
		parts = append(parts, fmt.Sprintf("and %d more warnings", warns.Dropped))
	}
	return "accepted with warnings: " + strings.Join(parts, "; ")
}
