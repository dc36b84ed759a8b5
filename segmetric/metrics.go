package segmetric

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"text/tabwriter"
)

// Metrics are the results of an evaluation as fractions in [0, 1]; NaN
// marks a value whose denominator is zero.
type Metrics struct {
	// AAcc is the overall pixel accuracy, Σintersect/Σlabel.
	AAcc float64
	// MIoU, MAcc and MDice are the nanmeans of IoU, Acc and Dice.
	MIoU, MAcc, MDice float64
	// IoU, Acc and Dice hold one value per class.
	IoU, Acc, Dice []float64
	// NumImages and NumClasses say what was evaluated.
	NumImages, NumClasses int
}

// nullable is a float64 that encodes NaN as JSON null.
type nullable float64

// MarshalJSON writes f, or null for NaN and infinities.
func (f nullable) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(v)
}

func nullables(x []float64) []nullable {
	out := make([]nullable, len(x))
	for i, v := range x {
		out[i] = nullable(v)
	}
	return out
}

// MarshalJSON writes the metrics under mmseg's names (aAcc, mIoU, mAcc,
// mDice, IoU, Acc, Dice) and num_images, num_classes, with null for NaN.
func (m *Metrics) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		AAcc       nullable   `json:"aAcc"`
		MIoU       nullable   `json:"mIoU"`
		MAcc       nullable   `json:"mAcc"`
		MDice      nullable   `json:"mDice"`
		IoU        []nullable `json:"IoU"`
		Acc        []nullable `json:"Acc"`
		Dice       []nullable `json:"Dice"`
		NumImages  int        `json:"num_images"`
		NumClasses int        `json:"num_classes"`
	}{nullable(m.AAcc), nullable(m.MIoU), nullable(m.MAcc), nullable(m.MDice),
		nullables(m.IoU), nullables(m.Acc), nullables(m.Dice), m.NumImages, m.NumClasses})
}

// WriteTable writes mmseg's two tables, the per-class IoU, Acc and Dice and
// then the summary, as fractions with four decimals and "nan" where
// undefined. names labels the classes; a class without a name is shown by
// its index.
func (m *Metrics) WriteTable(w io.Writer, names []string) error {
	fmt.Fprintln(w, "per class results:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "class\tIoU\tAcc\tDice\t")
	for k := range m.NumClasses {
		name := strconv.Itoa(k)
		if k < len(names) && names[k] != "" {
			name = names[k]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", name, fraction(m.IoU[k]), fraction(m.Acc[k]), fraction(m.Dice[k]))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nsummary:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "aAcc\tmIoU\tmAcc\tmDice\t")
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", fraction(m.AAcc), fraction(m.MIoU), fraction(m.MAcc), fraction(m.MDice))
	return tw.Flush()
}

func fraction(v float64) string {
	if math.IsNaN(v) {
		return "nan"
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}
