package planner

import (
	"fmt"

	"github.com/tetrahq/tetra/lang"
)

// Node is an operator built by a Factory; the planner never looks inside.
type Node any

// Factory builds operators from a final plan. The executor implements it;
// the planner calls it and never imports the executor. Every plan node has
// one method, so adding a node without teaching the executor does not
// compile.
type Factory interface {
	ConstructScan(f Field, terms []string) (Node, error)
	ConstructGlobScan(f Field, globs []Glob) (Node, error)
	ConstructIDs(ids []uint64) (Node, error)
	ConstructAll() (Node, error)
	ConstructNothing() (Node, error)
	ConstructFilter(input Node, p Pred) (Node, error)
	ConstructUnion(inputs []Node) (Node, error)
	ConstructIntersect(inputs []Node) (Node, error)
	ConstructExcept(left, right Node) (Node, error)
	ConstructExpand(seeds Node, levels int, dir lang.Direction, relationTypes []Glob) (Node, error)
}

// Construct builds the operator tree of a plan through f, inputs first.
func Construct(p Plan, f Factory) (Node, error) {
	kids := children(p)
	built := make([]Node, len(kids))
	for i, k := range kids {
		n, err := Construct(k, f)
		if err != nil {
			return nil, err
		}
		built[i] = n
	}
	switch p := p.(type) {
	case *Scan:
		return f.ConstructScan(p.Field, p.Terms)
	case *GlobScan:
		return f.ConstructGlobScan(p.Field, p.Globs)
	case *IDs:
		return f.ConstructIDs(p.IDs)
	case *All:
		return f.ConstructAll()
	case *Nothing:
		return f.ConstructNothing()
	case *Filter:
		return f.ConstructFilter(built[0], p.Pred)
	case *Union:
		return f.ConstructUnion(built)
	case *Intersect:
		return f.ConstructIntersect(built)
	case *Except:
		return f.ConstructExcept(built[0], built[1])
	case *Expand:
		return f.ConstructExpand(built[0], p.Levels, p.Direction, p.RelationTypes)
	}
	return nil, fmt.Errorf("planner: no constructor for %T", p)
}
