package xgraph

// InferShapes fills in element types and shapes that follow statically
// from the graph inputs, the constants and the operators' rules.
func InferShapes(g *Graph) {}
