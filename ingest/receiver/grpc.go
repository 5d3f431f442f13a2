package receiver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	_ "google.golang.org/grpc/encoding/gzip" // OTLP exporters may compress with gzip
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/ingest"
)

// GRPC is the OTLP/gRPC receiver: OTLP's trace, metrics and logs services
// (opentelemetry.proto.collector.{trace,metrics,logs}.v1, method Export) on
// a listener of their own, storing as the HTTP routes do. It is safe for
// concurrent use; create it with Receiver.NewGRPC after Mount.
//
// A call's key is read from its metadata as the HTTP receiver reads
// headers (x-api-key, authorization: Bearer … or ApiKey …, sts-api-key;
// role ingest). A request body is checked by the same decoder as
// OTLP/HTTP's protobuf (ingest.Decoder.DecodeOTLP): the services take the
// request's bytes, not a message decoded by gRPC, because protobuf's
// decoder silently drops a field of the wrong wire type. Errors are gRPC
// statuses, as OTLP has them: InvalidArgument for a bad export (its
// message names the field), Unauthenticated, PermissionDenied,
// ResourceExhausted with RetryInfo when the writer's queue is full, and
// Unavailable when the server is shutting down or has no store for the
// signal.
type GRPC struct {
	rc  *Receiver
	srv *grpc.Server
}

// GRPCOptions configure NewGRPC.
type GRPCOptions struct {
	// TLSCert and TLSKey, when set, are the PEM files of the server's
	// certificate and key: the listener speaks TLS.
	TLSCert, TLSKey string
}

// NewGRPC returns the gRPC receiver of a mounted receiver.
func (rc *Receiver) NewGRPC(o GRPCOptions) (*GRPC, error) {
	if rc.srv == nil {
		return nil, errors.New("receiver: NewGRPC before Mount")
	}
	opts := []grpc.ServerOption{grpc.MaxRecvMsgSize(int(rc.cfg.MaxDecodedBytes)), grpc.ForceServerCodecV2(rawCodec{})}
	if o.TLSCert != "" {
		creds, err := credentials.NewServerTLSFromFile(o.TLSCert, o.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("receiver: OTLP/gRPC TLS: %w", err)
		}
		opts = append(opts, grpc.Creds(creds))
	}
	g := &GRPC{rc: rc, srv: grpc.NewServer(opts...)}
	for sig, desc := range map[ingest.Signal]*grpc.ServiceDesc{ingest.SignalTraces: &coltracepb.TraceService_ServiceDesc,
		ingest.SignalMetrics: &colmetricspb.MetricsService_ServiceDesc, ingest.SignalLogs: &collogspb.LogsService_ServiceDesc} {
		// The generated service's name and method, with a handler that
		// takes the request's bytes.
		g.srv.RegisterService(&grpc.ServiceDesc{ServiceName: desc.ServiceName, HandlerType: (*any)(nil),
			Methods: []grpc.MethodDesc{{MethodName: "Export", Handler: g.handler(sig)}}, Metadata: desc.Metadata}, g)
	}
	return g, nil
}

// Serve serves on ln until Stop; it returns nil after Stop.
func (g *GRPC) Serve(ln net.Listener) error {
	if err := g.srv.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}

// Stop stops taking calls and waits for those running to be answered (so
// that every export answered OK is durable), until ctx is done; then it
// cuts the rest off.
func (g *GRPC) Stop(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		g.srv.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		g.srv.Stop()
		<-done
	}
}

// handler serves Export of a signal's service.
func (g *GRPC) handler(sig ingest.Signal) grpc.MethodHandler {
	return func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
		var body rawRequest
		if err := dec(&body); err != nil {
			return nil, err
		}
		return g.export(ctx, sig, body.b)
	}
}

// export authenticates, decodes and stores one export request.
func (g *GRPC) export(ctx context.Context, sig ingest.Signal, body []byte) (proto.Message, error) {
	start := time.Now()
	rc := g.rc
	rc.m.bodyBytes.Add(float64(len(body)))
	p, err := g.authenticate(ctx)
	if err == nil {
		err = rc.hasStore(sig)
	}
	var pl *ingest.Payload
	var warns *ingest.Warnings
	if err == nil {
		pl, warns, err = ingest.Decoder{MaxBytes: rc.cfg.MaxDecodedBytes}.DecodeOTLP(sig, body)
	}
	if err == nil {
		err = rc.exportOTLP(api.WithPrincipal(ctx, p), pl)
	}
	if err != nil {
		e := classify(err)
		rc.m.refused(e.Class)
		if e.Class == api.ClassBadRequest {
			rc.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "OTLP/gRPC export refused", slog.String("signal", sig.String()),
				slog.String("error", e.Message))
		}
		return nil, grpcStatus(e)
	}
	rc.m.accepted(warns.Len(), time.Since(start))
	return otlpResponse(sig, warns), nil
}

// authenticate finds the call's principal from its metadata, as the API
// server finds a request's from its headers.
func (g *GRPC) authenticate(ctx context.Context) (*api.Principal, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, "/", nil)
	if err != nil {
		return nil, err
	}
	for k, vs := range md {
		if strings.HasPrefix(k, ":") { // pseudo-headers
			continue
		}
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	return g.rc.srv.Authenticate(r, api.RoleIngest)
}

// grpcStatus is the gRPC status of an API error, by the codes OTLP
// gives: retryable are ResourceExhausted (with RetryInfo) and
// Unavailable.
func grpcStatus(e *api.Error) error {
	code := codes.Internal
	switch e.Class {
	case api.ClassBadRequest, api.ClassMediaType:
		code = codes.InvalidArgument
	case api.ClassTooLarge:
		// Not ResourceExhausted: OTLP clients retry that, and the same
		// request would be too large again.
		code = codes.InvalidArgument
	case api.ClassUnauthorized:
		code = codes.Unauthenticated
	case api.ClassForbidden:
		code = codes.PermissionDenied
	case api.ClassTooMany:
		code = codes.ResourceExhausted
	case api.ClassUnavailable:
		code = codes.Unavailable
	case api.ClassCanceled:
		code = codes.Canceled
	case api.ClassTimeout:
		code = codes.DeadlineExceeded
	}
	msg := e.Message
	for _, pr := range e.Problems {
		msg += "; " + strings.TrimPrefix(pr.Path+": "+pr.Message, ": ")
	}
	st := status.New(code, msg)
	if e.RetryAfter > 0 {
		if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(e.RetryAfter)}); err == nil {
			st = d
		}
	}
	return st.Err()
}

// rawRequest is a request's bytes, as rawCodec hands them over.
type rawRequest struct{ b []byte }

// rawCodec is gRPC's protobuf codec, except that it gives the services
// their request's bytes (a *rawRequest) for the receiver to check and
// decode.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("receiver: cannot marshal %T", v)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	switch v := v.(type) {
	case *rawRequest:
		v.b = data.Materialize()
		return nil
	case proto.Message:
		return proto.Unmarshal(data.Materialize(), v)
	}
	return fmt.Errorf("receiver: cannot unmarshal into %T", v)
}
