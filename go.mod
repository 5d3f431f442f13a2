module github.com/tetrahq/tetra

go 1.26.8
