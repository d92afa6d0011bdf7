package catalog

// ValidGTIN reports whether s is a GTIN-8, -12 (UPC-A), -13 (EAN-13) or -14: digits only, of one
// of those lengths, whose last digit is the GS1 check digit of the others (from the right, weights
// 3, 1, 3, ...; the check digit brings the weighted sum to a multiple of 10). A typo in one digit,
// and most swaps of two neighbouring digits, fail it: that is what the digit is for.
func ValidGTIN(s string) bool {
	switch len(s) {
	case 8, 12, 13, 14:
	default:
		return false
	}
	sum := 0
	for i := len(s) - 2; i >= 0; i-- {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if (len(s)-2-i)%2 == 0 {
			d *= 3
		}
		sum += d
	}
	last := s[len(s)-1]
	if last < '0' || last > '9' {
		return false
	}
	return (10-sum%10)%10 == int(last-'0')
}
