"""Every size limit of the wire protocol, in one place.

Decoders refuse anything larger before doing real work; the p2p layer uses the same figures for
gossip messages and DHT records.
"""

KIB = 1024
MIB = 1024 * KIB

MAX_PROGRAM_BYTES = 12 * MIB
"""A compiled Cairo program (cairo-compile JSON) inside a job body."""

MAX_PROGRAM_INPUT_BYTES = 2 * MIB
"""A program input (JSON) inside a job body."""

MAX_BODY_BYTES = MAX_PROGRAM_BYTES + MAX_PROGRAM_INPUT_BYTES + 4 * KIB
"""An encoded JobBody: program, input and the small fields around them."""

MAX_INPUT_VOLUMES = 16
"""Input volumes one job body may name."""

MAX_VOLUME_NAME_CHARS = 64
"""A volume's name: the program input key its content is given under."""

MAX_VOLUME_BYTES = 8 * MIB
"""One volume's content (UTF-8 JSON), fetched from the DHT or its publisher."""

MAX_OUTPUT_VOLUMES = 16
"""Output volumes one job body may declare (sections of the program output kept off chain)."""

MAX_LAYOUT_CHARS = 32
"""A Cairo layout name ("plain", "small", "recursive", ...)."""

MAX_SIGNATURE_FELTS = 16
"""Felts in an account signature (an SRC-6 signature is an array; [r, s] for a plain account)."""

MAX_OUTPUT_FELTS = 4096
"""Felts a job program may output."""

MAX_PROOF_BYTES = 16 * MIB
"""A proof carried inline in a witness (larger proofs go to the DHT by reference)."""

MAX_MODE_CHARS = 16
"""A verification mode name in a witness."""

MAX_SMALL_MESSAGE_BYTES = 4 * KIB
"""Headers, bids and assignments, signed: small enough for gossip."""

MAX_WITNESS_BYTES = MAX_PROOF_BYTES + MAX_OUTPUT_FELTS * 34 + 8 * KIB
"""An encoded JobWitness with an inline proof and a full output (or output volume references)."""

MAX_NESTING = 8
"""msgpack nesting depth any message may use."""
