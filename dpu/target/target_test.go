package target

import (
	"math"
	"strings"
	"testing"
)

func TestBuiltinTargets(t *testing.T) {
	ts, err := All()
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) < 11 {
		t.Fatalf("got %d targets, want the 8 family members and zu2, zu9, zcu104", len(ts))
	}
	for _, arch := range []string{"b512", "b800", "b1024", "b1152", "b1600", "b2304", "b3136", "b4096"} {
		tg, err := Lookup(arch)
		if err != nil {
			t.Fatal(err)
		}
		if got := "b" + strings.TrimPrefix(tg.Arch, "B"); got != arch {
			t.Errorf("%s: arch %s", arch, tg.Arch)
		}
	}
	tests := []struct {
		name     string
		minOps   int     // ops per cycle, all cores
		tops     float64 // peak, TOPS
		clockMHz float64
	}{
		{"zu2", 1152, 0.38, 330},
		{"zu9", 8545, 4.06, 330},
		{"zcu104", 8192, 2.46, 300},
	}
	for _, tt := range tests {
		tg, err := Lookup(tt.name)
		if err != nil {
			t.Fatal(err)
		}
		if tg.TotalPeakOpsPerCycle() < tt.minOps {
			t.Errorf("%s: %d ops/cycle, want >= %d", tt.name, tg.TotalPeakOpsPerCycle(), tt.minOps)
		}
		if got := tg.PeakOpsPerSecond() / 1e12; math.Abs(got-tt.tops) > 0.005 {
			t.Errorf("%s: peak %.3f TOPS, want %.2f", tt.name, got, tt.tops)
		}
		if tg.ClockMHz != tt.clockMHz {
			t.Errorf("%s: clock %v", tt.name, tg.ClockMHz)
		}
	}
	if zu9, _ := Lookup("zu9"); 2.82e12/(zu9.ClockMHz*1e6) > float64(zu9.TotalPeakOpsPerCycle()) {
		t.Error("zu9 cannot reach 2.82 TOPs")
	}
}

func TestParseRejects(t *testing.T) {
	good, err := files.ReadFile("targets/b4096.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, from, to, want string }{
		{"arch mismatch", `"arch": "B4096"`, `"arch": "B2048"`, "arch B2048"},
		{"unknown field", `"cores": 1`, `"cores": 1, "turbo": 2`, "unknown field"},
		{"zero clock", `"clock_mhz": 300`, `"clock_mhz": 0`, "clock_mhz must be positive"},
		{"missing assumption", `"cores": "one core`, `"x": "one core`, "no assumption stated for cores"},
		{"too many weight banks", `"weight_banks": 16`, `"weight_banks": 17`, "at most 16 weight banks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.Replace(string(good), tt.from, tt.to, 1)
			if src == string(good) {
				t.Fatalf("pattern %q not in file", tt.from)
			}
			_, err := Parse([]byte(src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := Lookup("b9999"); err == nil {
		t.Fatal("unknown target accepted")
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"b512", "zu9", "zcu104"} {
		b, err := files.ReadFile("targets/" + name + ".json")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tg, err := Parse(b)
		if err != nil {
			return
		}
		if tg.TotalPeakOpsPerCycle() <= 0 || !(tg.DDRBytesPerCycle() > 0) {
			t.Fatalf("validated target with peak %d, DDR %v bytes/cycle", tg.TotalPeakOpsPerCycle(), tg.DDRBytesPerCycle())
		}
	})
}
