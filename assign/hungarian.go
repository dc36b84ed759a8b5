// Package assign matches predictions to ground truth for detection
// training: one-to-one by the Hungarian algorithm (Sparse R-CNN), and
// one-to-many by entropic optimal transport (OTA, Dynamic Sparse R-CNN's
// DLA) or by SimOTA's k-cheapest rule, with OTA's dynamic k.
//
// Matrices are flat row-major []float64 slices with their row and column
// counts.
package assign

import (
	"errors"
	"fmt"
	"math"
)

// ErrInfeasible reports a cost matrix with no complete assignment.
var ErrInfeasible = errors.New("assign: cost matrix is infeasible")

// CheckFinite returns an error naming the first NaN or infinite entry of the
// rows x cols matrix cost. Such costs come from diverging training (a NaN
// box or score) and would silently corrupt an assignment.
func CheckFinite(cost []float64, rows, cols int) error {
	if len(cost) != rows*cols {
		return fmt.Errorf("assign: %d costs for a %dx%d matrix", len(cost), rows, cols)
	}
	for i, c := range cost {
		if math.IsNaN(c) || math.IsInf(c, 0) {
			return fmt.Errorf("assign: cost[%d][%d] is %v: costs must be finite (a NaN or Inf usually means the loss diverged)", i/cols, i%cols, c)
		}
	}
	return nil
}

// Hungarian solves the linear sum assignment problem for the rows x cols
// matrix cost: it assigns min(rows, cols) rows to distinct columns with the
// least total cost, as scipy.optimize.linear_sum_assignment (the shortest
// augmenting path method of Jonker and Volgenant, in Crouse's rectangular
// form). It returns the assigned row indices, ascending, and their columns.
// NaN and infinite costs are refused.
func Hungarian(cost []float64, rows, cols int) (rowInd, colInd []int, err error) {
	if err := CheckFinite(cost, rows, cols); err != nil {
		return nil, nil, err
	}
	if rows == 0 || cols == 0 {
		return []int{}, []int{}, nil
	}
	transposed := cols < rows
	c := cost
	nr, nc := rows, cols
	if transposed {
		c = make([]float64, len(cost))
		for i := range rows {
			for j := range cols {
				c[j*rows+i] = cost[i*cols+j]
			}
		}
		nr, nc = cols, rows
	}
	col4row, err := lsap(c, nr, nc)
	if err != nil {
		return nil, nil, err
	}
	rowInd, colInd = make([]int, nr), make([]int, nr)
	if !transposed {
		for i := range nr {
			rowInd[i], colInd[i] = i, col4row[i]
		}
		return rowInd, colInd, nil
	}
	// Rows of the transposed problem are the original columns: report by
	// original row.
	row4 := make([]int, rows)
	for i := range row4 {
		row4[i] = -1
	}
	for i, j := range col4row {
		row4[j] = i
	}
	k := 0
	for r, cc := range row4 {
		if cc >= 0 {
			rowInd[k], colInd[k] = r, cc
			k++
		}
	}
	return rowInd, colInd, nil
}

// column is the per-column state of lsap, kept together so the inner loop
// touches one place per column.
type column struct {
	v       float64 // dual
	spc     float64 // shortest path cost in the current search
	path    int32   // previous row on the shortest path
	row4col int32   // assigned row, or -1
}

// lsap is scipy's rectangular shortest augmenting path solver for nr <= nc.
// It returns the column of each row.
func lsap(cost []float64, nr, nc int) ([]int, error) {
	u := make([]float64, nr)
	cs := make([]column, nc)
	col4row := make([]int, nr)
	remaining := make([]int32, nc)
	for i := range col4row {
		col4row[i] = -1
	}
	for j := range cs {
		cs[j] = column{path: -1, row4col: -1}
	}
	inf := math.Inf(1)
	if nr == nc {
		initSquare(cost, nr, u, cs, col4row)
	}
	var visitedRows, visitedCols []int
	for cur := range nr {
		if col4row[cur] != -1 {
			continue
		}
		// Dijkstra over reduced costs from row cur to a free column.
		minVal := 0.0
		for it := range nc {
			remaining[it] = int32(nc - it - 1)
		}
		numRemaining := nc
		visitedRows, visitedCols = visitedRows[:0], visitedCols[:0]
		for j := range cs {
			cs[j].spc = inf
		}
		i := cur
		sink := -1
		for sink == -1 {
			index := -1
			lowest := inf
			visitedRows = append(visitedRows, i)
			row := cost[i*nc : i*nc+nc]
			ui := u[i]
			for it, j := range remaining[:numRemaining] {
				c := &cs[j]
				// The same order of operations as scipy, for the same ties.
				r := minVal + row[j] - ui - c.v
				if r < c.spc {
					c.path = int32(i)
					c.spc = r
				}
				// On ties prefer a free column: it ends the search.
				if s := c.spc; s < lowest || s == lowest && c.row4col == -1 {
					lowest = s
					index = it
				}
			}
			minVal = lowest
			if math.IsInf(minVal, 1) {
				return nil, ErrInfeasible
			}
			j := int(remaining[index])
			if cs[j].row4col == -1 {
				sink = j
			} else {
				i = int(cs[j].row4col)
			}
			visitedCols = append(visitedCols, j)
			numRemaining--
			remaining[index] = remaining[numRemaining]
		}
		// Update the dual variables.
		u[cur] += minVal
		for _, i := range visitedRows {
			if i != cur {
				u[i] += minVal - cs[col4row[i]].spc
			}
		}
		for _, j := range visitedCols {
			cs[j].v -= minVal - cs[j].spc
		}
		// Augment along the path.
		for j := sink; ; {
			i := int(cs[j].path)
			cs[j].row4col = int32(i)
			col4row[i], j = j, col4row[i]
			if i == cur {
				break
			}
		}
	}
	return col4row, nil
}

// initSquare is Jonker and Volgenant's initialisation for a square matrix:
// column reduction with reduction transfer, then two rounds of augmenting
// row reduction. It leaves a partial matching in col4row and cs, and duals
// u, v with u[i] + v[j] <= cost[i][j] everywhere and equality on the
// matching, from which the shortest path phase completes the assignment
// with the rows still free. (With fewer rows than columns an unassigned
// column must keep v = 0, so the rectangular case starts from zero duals as
// scipy does.)
func initSquare(cost []float64, n int, u []float64, cs []column, col4row []int) {
	inf := math.Inf(1)
	v := make([]float64, n)
	y := make([]int, n) // row of each column
	for j := range v {
		v[j] = inf
	}
	for i := range n {
		for j, c := range cost[i*n : i*n+n] {
			if c < v[j] {
				v[j], y[j] = c, i
			}
		}
	}
	x := col4row // column of each row
	unique := make([]bool, n)
	for i := range unique {
		unique[i] = true
	}
	for j := n - 1; j >= 0; j-- {
		i := y[j]
		if x[i] < 0 {
			x[i] = j
		} else {
			unique[i] = false
			y[j] = -1
		}
	}
	free := make([]int, 0, n)
	for i := range n {
		if x[i] < 0 {
			free = append(free, i)
			continue
		}
		if unique[i] {
			// Reduction transfer: lower the column's dual to the row's
			// second best reduced cost.
			j := x[i]
			m := inf
			for j2, c := range cost[i*n : i*n+n] {
				if j2 != j {
					m = min(m, c-v[j2])
				}
			}
			v[j] -= m
		}
	}
	for range 2 {
		free = augmentRowReduction(cost, n, free, x, y, v)
	}
	for j := range n {
		cs[j].v = v[j]
		cs[j].row4col = int32(y[j])
	}
	for i := range n {
		row := cost[i*n : i*n+n]
		if x[i] >= 0 {
			u[i] = row[x[i]] - v[x[i]]
			continue
		}
		m := inf
		for j, c := range row {
			m = min(m, c-v[j])
		}
		u[i] = m
	}
}

// arrRounds caps the rounds of augmentRowReduction at arrRounds times n.
const arrRounds = 2

// augmentRowReduction assigns each free row to its cheapest column under
// the reduced costs, lowering that column's dual to the row's second best
// so the displaced row, if any, looks elsewhere. It returns the rows left
// free. On real-valued costs two rows can outbid each other by tiny steps
// for a long time, so the rounds are capped and the shortest path phase
// takes over the rows still free.
func augmentRowReduction(cost []float64, n int, free, x, y []int, v []float64) []int {
	current, newFree, rounds := 0, 0, 0
	for current < len(free) {
		if rounds >= arrRounds*n {
			k := copy(free[newFree:], free[current:])
			return free[:newFree+k]
		}
		rounds++
		i := free[current]
		current++
		row := cost[i*n : i*n+n]
		j1, v1 := 0, row[0]-v[0]
		j2, v2 := -1, math.Inf(1)
		for j := 1; j < n; j++ {
			c := row[j] - v[j]
			if c < v2 {
				if c >= v1 {
					v2, j2 = c, j
				} else {
					v2, j2 = v1, j1
					v1, j1 = c, j
				}
			}
		}
		i0 := y[j1]
		v1new := v[j1] - (v2 - v1)
		lowers := v1new < v[j1]
		if rounds < current*n {
			if lowers {
				v[j1] = v1new
			} else if i0 >= 0 && j2 >= 0 {
				j1 = j2
				i0 = y[j2]
			}
			if i0 >= 0 {
				if lowers {
					current--
					free[current] = i0
				} else {
					free[newFree] = i0
					newFree++
				}
			}
		} else if i0 >= 0 {
			free[newFree] = i0
			newFree++
		}
		if i0 >= 0 {
			x[i0] = -1
		}
		x[i] = j1
		y[j1] = i
	}
	return free[:newFree]
}
