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

// lsap is scipy's rectangular shortest augmenting path solver for nr <= nc.
// It returns the column of each row.
func lsap(cost []float64, nr, nc int) ([]int, error) {
	u := make([]float64, nr)
	v := make([]float64, nc)
	spc := make([]float64, nc) // shortest path costs
	path := make([]int, nc)
	col4row := make([]int, nr)
	row4col := make([]int, nc)
	sr := make([]bool, nr)
	sc := make([]bool, nc)
	remaining := make([]int, nc)
	for i := range col4row {
		col4row[i] = -1
	}
	for j := range nc {
		path[j], row4col[j] = -1, -1
	}
	var visitedRows, visitedCols []int
	for cur := range nr {
		// Dijkstra over reduced costs from row cur to a free column.
		minVal := 0.0
		for it := range nc {
			remaining[it] = nc - it - 1
		}
		numRemaining := nc
		for _, i := range visitedRows {
			sr[i] = false
		}
		for _, j := range visitedCols {
			sc[j] = false
		}
		visitedRows, visitedCols = visitedRows[:0], visitedCols[:0]
		for j := range spc {
			spc[j] = math.Inf(1)
		}
		i := cur
		sink := -1
		for sink == -1 {
			index := -1
			lowest := math.Inf(1)
			sr[i] = true
			visitedRows = append(visitedRows, i)
			row := cost[i*nc : i*nc+nc]
			ui := u[i]
			for it, j := range remaining[:numRemaining] {
				// The same order of operations as scipy, for the same ties.
				r := minVal + row[j] - ui - v[j]
				if r < spc[j] {
					path[j] = i
					spc[j] = r
				}
				// On ties prefer a free column: it ends the search.
				if s := spc[j]; s < lowest || s == lowest && row4col[j] == -1 {
					lowest = s
					index = it
				}
			}
			minVal = lowest
			if math.IsInf(minVal, 1) {
				return nil, ErrInfeasible
			}
			j := remaining[index]
			if row4col[j] == -1 {
				sink = j
			} else {
				i = row4col[j]
			}
			sc[j] = true
			visitedCols = append(visitedCols, j)
			numRemaining--
			remaining[index] = remaining[numRemaining]
		}
		// Update the dual variables.
		u[cur] += minVal
		for _, i := range visitedRows {
			if i != cur {
				u[i] += minVal - spc[col4row[i]]
			}
		}
		for _, j := range visitedCols {
			v[j] -= minVal - spc[j]
		}
		// Augment along the path.
		for j := sink; ; {
			i := path[j]
			row4col[j] = i
			col4row[i], j = j, col4row[i]
			if i == cur {
				break
			}
		}
	}
	return col4row, nil
}
