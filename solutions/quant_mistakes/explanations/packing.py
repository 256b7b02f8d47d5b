"""What a student reads for the mistakes of labs L5-B and L5-C."""

EXPLANATIONS = {
    "pack_msb_first": "The first value lands in the highest bits of the byte. This lab packs lowest bits first: "
    "value j of a byte is shifted left by `bits * j`, so [1, 0, 3, 2] becomes 0b10_11_00_01 = 177.",
    "pack_wrong_shift": "The shift is wrong. Value j of a byte must move left by `bits * j` bits (0, 2, 4 and 6 "
    "for 2-bit values), so that the values sit in separate bit-fields instead of overlapping.",
    "unpack_no_mask": "The higher values of the byte come along with the one you want. After shifting right, "
    "keep only the low `bits` bits with `& (2 ** bits - 1)` (3 for 2-bit values, 15 for 4-bit).",
    "unpack_msb_first": "The first value is read from the highest bits. Packing puts the first value in the "
    "lowest bits, so value j of a byte is `(byte >> (bits * j)) & (2 ** bits - 1)`.",
}

#: Mistake id -> a short title (the class summary's misconceptions table).
TITLES = {
    "pack_msb_first": "Packing puts the first value in the highest bits",
    "pack_wrong_shift": "Packing shifts by the wrong amount",
    "unpack_no_mask": "Unpacking without a bit mask",
    "unpack_msb_first": "Unpacking reads the first value from the highest bits",
}
