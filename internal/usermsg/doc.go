// Package usermsg turns errors into the text users read. Tetra's packages
// prefix their errors with their name ("exec: …", "graphstore: …", as
// Pebble does), which says where an error came from in a log but is noise
// to someone who typed a query. Message strips those prefixes; Render is
// lang.Render (the caret under the part of a query an error is about)
// with that message for errors without a position.
//
// It is the one place that decides what a user sees of an error: the
// tetra command, the shell and the API's error bodies all use it, while
// logs keep err.Error() as it is.
package usermsg
