Feature: CLIENT: certifying a partner's client
  The CLIENT area of the catalogue judges a partner's client program, not a server: its
  scenarios are in features/client/ and run with 'authzcheck client -- COMMAND'. This file holds
  no scenario; it is here so that a conformance run, which reads one file per catalogue area,
  finds one for CLIENT too.
