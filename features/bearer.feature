Feature: BEARER - using the token at the API
  A Ticket API accepts a valid token sent as "Authorization: Bearer <token>" and refuses anything
  else: no token, a tampered or forged token, an expired one, or a token sent the wrong way.

  Background:
    Given I have a valid token

  @BEARER-01 @must @api
  Scenario: The API accepts a valid token
    Accepted: neither 401 nor 403, nor a 400 whose challenge or body names the token.
    When I call the API with the token
    Then the API accepted the call

  @BEARER-02 @must @api
  Scenario: The API refuses a call without a token
    When I call the API without an Authorization header
    Then the response status is 401

  @BEARER-03 @should @api
  Scenario: The API tells a caller without a token to use a Bearer token
    When I call the API without an Authorization header
    Then the response header WWW-Authenticate names the Bearer scheme

  @BEARER-04 @should @api
  Scenario: The token without the word Bearer is refused
    When I call the API with the token but without the word Bearer
    Then the response status is 401

  @BEARER-05 @should @api
  Scenario Outline: The scheme name is accepted in any letter case
    The same call is made first with "Bearer": accepted means answered as that one was, a 2xx
    where it got a 2xx ("400 invalid access token" to "bearer" is a refusal).
    When I call the API with the token and the scheme written "<scheme>"
    Then the API accepted the call

    Examples:
      | scheme |
      | bearer |
      | BEARER |

  @BEARER-06 @must @api
  Scenario: The client's own credentials are not a token
    When I call the API with the client's Basic credentials
    Then the response status is 401

  @BEARER-07 @must @api
  Scenario: A token whose signature was altered is refused
    When I call the API with the token, its signature altered
    Then the response status is 401

  @BEARER-08 @must @api
  Scenario: A token whose claims were altered is refused
    When I call the API with the token, its claims altered and its signature kept
    Then the response status is 401

  @BEARER-09 @must @api
  Scenario: A token re-signed with the "none" algorithm is refused
    "none" is sent as written and in other letter cases ("None", "NONE", "nOnE"): each refused.
    When I call the API with the token, re-signed with alg none
    Then the response status is 401

  @BEARER-10 @must @api @keys
  Scenario: A token re-signed with HS256 using the issuer's public key is refused
    When I call the API with the token, re-signed with HS256 using the issuer's public key as the secret
    Then the response status is 401

  # The expired token is minted by the embedded mock, or, against any server, is one an earlier
  # run kept in --token-store DIR that has expired by now.
  @BEARER-11 @must @api @control
  Scenario: An expired token is refused
    When I call the API with an expired token
    Then the response status is 401

  @BEARER-12 @should @api
  Scenario Outline: A refused token is reported as invalid_token
    When I call the API with <token>
    Then the response header WWW-Authenticate has error "invalid_token"

    Examples:
      | token                                   |
      | the token, its signature altered        |
      | the token, its claims altered and its signature kept |
      | the token, re-signed with alg none      |

    @keys
    Examples:
      | token                                   |
      | the token, re-signed with HS256 using the issuer's public key as the secret |

    @control
    Examples:
      | token                                   |
      | an expired token                        |

  # The API that needs another scope is the embedded mock's /shopping, or one named by
  # --api-url-for SCOPE=URL (called with POST).
  @BEARER-13 @should @api
  Scenario: A token without the needed scope is refused as insufficient
    Given I have a token with the scope "product.all"
    When I call an API that needs another scope with that token
    Then the response status is 403
    And the response header WWW-Authenticate has error "insufficient_scope"

  @BEARER-14 @should @api
  Scenario: A token in the URL query is refused
    When I call the API with the token in the URL query and no Authorization header
    Then the response status is 401

  @BEARER-15 @must @api
  Scenario Outline: A garbage or empty token is refused
    When I call the API with the Authorization header "<header>"
    Then the response status is 401

    Examples:
      | header     |
      | Bearer abc |
      | Bearer     |

  @BEARER-16 @must @api
  Scenario: A token signed by a key the issuer never had is refused
    Six forgeries, each refused: under the real token's header; naming the forger's key in a jwk
    header, a jku URL (a loopback JWKS the harness serves), an x5c certificate or an x5u URL of
    that certificate; and HS256 under the empty key with a kid that reaches /dev/null.
    When I call the API with the token, re-signed by a key the issuer never had
    Then the response status is 401
