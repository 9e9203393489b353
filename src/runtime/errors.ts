// An error the user can act on (bad path, bad flag, corrupt input, ROS 2 missing): the CLI reports
// it as one line and a non-zero exit, never as a stack trace. Any layer from the runtime up throws it.

export class UserError extends Error {
  override name = "UserError";
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}
