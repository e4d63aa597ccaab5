Feature: Signing in
  Scenario: Right password
    Given the sign-in page
    | a table | with a missing cell
  Examples:
    | user |
  Scenario Outline without a colon
