window.WsBridgeClient = 1;
