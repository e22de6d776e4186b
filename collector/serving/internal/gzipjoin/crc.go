package gzipjoin

// The CRC-32 (IEEE) of a concatenation, from the CRCs of its parts: the
// gzip trailer needs the CRC of the whole stream, and a part that is joined
// into many streams has its CRC computed once.
//
// The method is the one zlib uses: the CRC register is a vector over GF(2),
// and feeding it one zero bit is a linear map, so feeding it n zero bytes
// is a 32x32 bit matrix, built by repeated squaring. Then
//
//	crc(A || B) = zeros(len(B)) * crc(A)  xor  crc(B)
//
// holds for the finished CRCs too: the initial and final inversion cancel
// out (see TestCRCCombine).

// crcPoly is the reflected IEEE polynomial, as hash/crc32 uses it.
const crcPoly = 0xedb88320

// crcMatrix is a linear map on CRC registers: column i is the image of the
// register with only bit i set.
type crcMatrix [32]uint32

// apply returns m times v.
func (m *crcMatrix) apply(v uint32) uint32 {
	var out uint32
	for i := 0; v != 0; i, v = i+1, v>>1 {
		if v&1 != 0 {
			out ^= m[i]
		}
	}
	return out
}

// then returns the map "m, then n".
func (m *crcMatrix) then(n *crcMatrix) crcMatrix {
	var out crcMatrix
	for i := range out {
		out[i] = n.apply(m[i])
	}
	return out
}

// crcZeros returns the map that feeds n zero bytes to a CRC register.
func crcZeros(n int) crcMatrix {
	var result crcMatrix // identity to start with
	for i := range result {
		result[i] = 1 << i
	}
	// One zero bit: shift right, folding the polynomial in when bit 0 falls
	// out. Three squarings make it one zero byte.
	var power crcMatrix
	power[0] = crcPoly
	for i := 1; i < 32; i++ {
		power[i] = 1 << (i - 1)
	}
	for range 3 {
		power = power.then(&power)
	}
	// Binary exponentiation: power is zeros(2^k bytes) at step k. All the
	// powers of one map commute, so the order of composition is free.
	for ; n > 0; n >>= 1 {
		if n&1 != 0 {
			result = result.then(&power)
		}
		power = power.then(&power)
	}
	return result
}
