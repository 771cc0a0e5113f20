Feature: SEC - transport
  Credentials and tokens travel only over TLS that the client can verify.

  @SEC-01 @must
  Scenario: The token endpoint is reached over HTTPS
    Then the token endpoint URL uses https, or its host is loopback
    And no credential was sent over plain HTTP to any other host

  @SEC-02 @must
  Scenario: The token endpoint's certificate is trusted
    When I request a token with valid credentials
    Then the TLS certificate of the token endpoint verified

  @SEC-03 @must
  Scenario: The connection uses a current TLS version
    The harness never offers less than TLS 1.2 with a credential (RFC 8996); a handshake that
    offers only TLS 1.0 and 1.1, and sends nothing, must be refused.
    When I request a token with valid credentials
    Then the connection used TLS 1.2 or newer

  @SEC-04 @info
  Scenario: Whether the token endpoint asks browsers to insist on HTTPS is reported
    When I request a token with valid credentials
    Then the response header Strict-Transport-Security is reported
