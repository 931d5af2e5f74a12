// Package synth generates the recordings Steward's demo, tests and
// benchmarks use: a sustained vowel as 16-bit PCM WAV, a wrist or ankle IMU
// stream and a pressure-insole walk as tab-separated tables. The signals are
// deterministic functions of a seed, shaped like the real thing (a pulse
// train with energy at the formants of /a/, gait-cycle accelerations,
// heel-to-toe force rolls) plus seeded noise, so every seed gives a file of
// its own digest that passes the content checks.
package synth

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
)

// noise returns a deterministic source of small measurement noise, so that
// two seeds never give the same file.
func noise(seed int) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), 0x5354455741524400))
}

// Vowel writes a sustained /a/ of the given length as mono 16-bit PCM WAV.
// The fundamental frequency varies with seed between 100 and 220 Hz.
func Vowel(w io.Writer, rate int, seconds float64, seed int) error {
	frames := int(float64(rate) * seconds)
	bw := bufio.NewWriter(w)
	dataLen := uint32(frames * 2)
	header := []any{
		[4]byte{'R', 'I', 'F', 'F'}, 36 + dataLen, [4]byte{'W', 'A', 'V', 'E'},
		[4]byte{'f', 'm', 't', ' '}, uint32(16), uint16(1), uint16(1), uint32(rate), uint32(rate * 2), uint16(2), uint16(16),
		[4]byte{'d', 'a', 't', 'a'}, dataLen,
	}
	for _, v := range header {
		if err := binary.Write(bw, binary.LittleEndian, v); err != nil {
			return err
		}
	}
	f0 := 100 + float64(seed%12)*10
	jitter := noise(seed)
	formants := []struct{ freq, gain float64 }{{730, 1}, {1090, 0.5}, {2440, 0.25}}
	var buf [2]byte
	for i := 0; i < frames; i++ {
		t := float64(i) / float64(rate)
		phase := math.Mod(t*f0, 1)
		pulse := math.Exp(-phase * 12) // glottal pulse decaying within each period
		v := 0.0
		for _, f := range formants {
			v += f.gain * pulse * math.Sin(2*math.Pi*f.freq*phase/f0)
		}
		env := math.Min(1, math.Min(t*20, (seconds-t)*20)) // 50 ms fade in and out
		binary.LittleEndian.PutUint16(buf[:], uint16(int16(v*env*9000+jitter.NormFloat64()*20)))
		if _, err := bw.Write(buf[:]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// IMU writes a tab-separated 3-axis accelerometer and gyroscope stream with
// a header and a time column in seconds: 7 columns, 6 channels.
func IMU(w io.Writer, rate int, seconds float64, seed int) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "time_s\tacc_x_g\tacc_y_g\tacc_z_g\tgyro_x_dps\tgyro_y_dps\tgyro_z_dps")
	cadence := 0.9 + float64(seed%5)*0.05 // strides per second
	jitter := noise(seed)
	n := int(float64(rate) * seconds)
	for i := 0; i < n; i++ {
		t := float64(i) / float64(rate)
		p := 2 * math.Pi * cadence * t
		e := func(scale float64) float64 { return jitter.NormFloat64() * scale }
		fmt.Fprintf(bw, "%.4f\t%.4f\t%.4f\t%.4f\t%.3f\t%.3f\t%.3f\n", t,
			0.3*math.Sin(p)+e(0.01), 0.1*math.Sin(2*p+0.4)+e(0.01), 1+0.4*math.Abs(math.Sin(p))+e(0.01),
			40*math.Cos(p)+e(0.5), 12*math.Sin(2*p)+e(0.5), 5*math.Sin(p+float64(seed))+e(0.5))
	}
	return bw.Flush()
}

// Insole writes a tab-separated pressure-insole walk without a header, laid
// out like PhysioNet gaitpdb: time in seconds, 8 sensors under each foot in
// newtons, then the total per foot (19 columns, 18 channels).
func Insole(w io.Writer, rate int, seconds float64, seed int) error {
	bw := bufio.NewWriter(w)
	stride := 1.0 + float64(seed%7)*0.03
	weight := 600 + float64(seed%11)*20
	jitter := noise(seed)
	n := int(float64(rate) * seconds)
	for i := 0; i < n; i++ {
		t := float64(i) / float64(rate)
		fmt.Fprintf(bw, "%.2f", t)
		var totals [2]float64
		var cells [16]float64
		for foot := 0; foot < 2; foot++ {
			phase := math.Mod(t/stride+float64(foot)*0.5, 1)
			stance := phase < 0.6
			for s := 0; s < 8; s++ {
				v := 0.0
				if stance {
					// Load rolls from heel (sensor 1) to toe (sensor 8).
					centre := float64(s) / 8 * 0.6
					v = weight/8*math.Exp(-math.Pow((phase-centre)/0.12, 2)) + math.Abs(jitter.NormFloat64())
				}
				cells[foot*8+s] = v
				totals[foot] += v
			}
		}
		for _, v := range cells {
			fmt.Fprintf(bw, "\t%.2f", v)
		}
		fmt.Fprintf(bw, "\t%.2f\t%.2f\n", totals[0], totals[1])
	}
	return bw.Flush()
}
