import { Spin } from 'antd';

export default function Loading() {
  return (
    <div style={{ display: 'flex', justifyContent: 'center', padding: 64 }} data-testid="loading">
      <Spin size="large" />
    </div>
  );
}
