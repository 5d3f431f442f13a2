package api

import "net/http"

// FixedAnswer returns a handler that reads a request as POST /api/query
// reads it and answers body as POST /api/query answers (one writev under
// Serve), without parsing, planning or running anything: the server's
// stack alone, for BenchmarkRESTLeanFloor. body is read, never modified.
func (s *Server) FixedAnswer(body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req QueryRequest
		if err := s.decodeQuery(w, r, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
		gatherWrites(r, body, func(b []byte) { writeBody(w, http.StatusOK, b) })
	}
}
