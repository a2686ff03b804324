/** Stable codes of {@link SimulatorError}; the HTTP control API answers them as `error.code`. */
export type SimulatorErrorCode =
  /** an argument is missing or malformed (HTTP 400) */
  | 'INVALID_ARGUMENT'
  /** `scan()`: no open page shows that QR ref (HTTP 404) */
  | 'NO_PAGE_FOR_QR'
  /** `enterCode()`: no open page shows that pairing code (never issued, replaced by a newer one, or its page is gone) (HTTP 404) */
  | 'NO_PAGE_FOR_CODE'
  /** `enterCode()`: the code was requested for another phone number, whose phone alone shows it (HTTP 403) */
  | 'WRONG_PHONE'
  /** no open page is paired as that phone, and (for `logout`) no device was ever linked to it (HTTP 404) */
  | 'UNKNOWN_PHONE'
  /** `waitForPage()` gave up (in-process only) */
  | 'TIMEOUT'
  /** HTTP: no such control route (404) */
  | 'NOT_FOUND'
  /** HTTP: the route exists for another method (405) */
  | 'METHOD_NOT_ALLOWED'
  /** the simulator is stopped */
  | 'STOPPED';

/** Thrown by every control operation of the simulator when it cannot do what was asked. */
export class SimulatorError extends Error {
  override readonly name = 'SimulatorError';

  constructor(
    readonly code: SimulatorErrorCode,
    message: string,
  ) {
    super(message);
  }
}
