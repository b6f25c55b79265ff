// Package importgraph holds the test that keeps docs/architecture.md's
// import graph true: every edge the document draws between the module's
// packages exists, and no package imports one the document does not name
// on its line.
package importgraph
