//! Value references (`$svc.host`, `$svc.ports.p`, `${config://…}`, `$$`), their interpolation, environment precedence and dependency order.
