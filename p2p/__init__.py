"""Wire protocol and networking: message model, canonical codec, signatures, libp2p host."""
